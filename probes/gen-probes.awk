# Generates the typed probe wrappers from memcached_dtrace.d. Run with
# -v part=h for probes.h, -v part=c for probes.c, and -v dtrace=1 for a
# build with the provider (dtrace=0: every wrapper is a no-op). With dtrace=1,
# -v sdt=systemtap (the default) builds the sites from systemtap's dtrace -h
# header and sys/sdt.h; -v sdt=builtin emits them itself (see "builtin" below).
#
# probes.h gives each probe probe_<name>_enabled() (its semaphore, non-zero
# while a tracer has it enabled) and probe_<name>(...), which fires the probe
# when enabled. The probe site itself (the SDT note and its nop) is in
# probes.c, in one out-of-line function per probe, probe_<name>_fire(): so
# every probe has exactly one site, whatever calls it, and its semaphore
# counts tracers, not call sites. An idle probe costs a load and a branch.
# Only lines of the form "probe name(type arg, ...);" are read.

function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }

# --- builtin: the SDT v3 ELF notes, written here instead of by sys/sdt.h ---
# Each probe site is a nop labelled 990; beside it the assembler is given a
# note in .note.stapsdt (owner "stapsdt", type 3) whose descriptor holds the
# site's address, the address of the one-byte .stapsdt.base section (so a
# reader can tell how far the image was moved), the semaphore's address, then
# three NUL-terminated strings: provider, probe name, and the arguments as
# "SIZE@OPERAND" separated by spaces, SIZE negative for a signed value. The
# semaphores are unsigned shorts in .probes; a tracer adds one while it
# watches a probe. The compiler places each argument in a register or an
# immediate ("nr") and prints its name into the argument string.

function builtin_c_prologue() {
	print "#if defined(__x86_64__)"
	print "#define SDT_SITE_NOP \".nops 5\""
	print "#else"
	print "#define SDT_SITE_NOP \"nop\""
	print "#endif"
	print "#if defined(__LP64__) || defined(_LP64)"
	print "#define SDT_ADDR \".8byte\""
	print "#else"
	print "#define SDT_ADDR \".4byte\""
	print "#endif"
	print "/* SIZE of an integer argument: its width in bytes, negated when signed. */"
	print "#define SDT_INT_SIZE(T) ((int)sizeof(T) * (((T)-1 > (T)0) ? 1 : -1))"
	print "/* The marker the notes point at: one byte, one copy per linked image. */"
	print "__asm__(\".pushsection .stapsdt.base,\\\"aG\\\",\\\"progbits\\\",.stapsdt.base,comdat\\n\""
	print "\t\".weak _.stapsdt.base\\n\""
	print "\t\".hidden _.stapsdt.base\\n\""
	print "\t\"_.stapsdt.base: .space 1\\n\""
	print "\t\".size _.stapsdt.base, 1\\n\""
	print "\t\".popsection\\n\");"
}

# Prints the semaphore and the fire function of one probe; a[1..n] are its
# "type name" parameters.
function builtin_c_site(name, fn, params, n, a,    i, p, an, ty, fmt, ops) {
	print "volatile unsigned short memcached_" name "_semaphore"
	print "\t__attribute__((section(\".probes\"), used)) = 0;"
	fmt = ""; ops = ""
	for (i = 1; i <= n; i++) {
		p = trim(a[i])
		an = p; sub(/^.*[^A-Za-z0-9_]/, "", an)
		ty = trim(substr(p, 1, length(p) - length(an)))
		fmt = fmt (i > 1 ? " " : "") "%c[s" i "]@%[a" i "]"
		ops = ops (i > 1 ? ", " : "") "[a" i "] \"nr\"(arg_" an "), [s" i "] \"n\"(" \
			(ty ~ /\*$/ ? "(int)sizeof(" ty ")" : "SDT_INT_SIZE(" ty ")") ")"
	}
	print "void probe_" fn "_fire(" params ")"
	print "{"
	print "\t__asm__ __volatile__("
	print "\t\t\"990: \" SDT_SITE_NOP \"\\n\""
	print "\t\t\".pushsection .note.stapsdt,\\\"\\\",\\\"note\\\"\\n\""
	print "\t\t\".balign 4\\n\""
	print "\t\t\".4byte 992f-991f, 994f-993f, 3\\n\""
	print "\t\t\"991: .asciz \\\"stapsdt\\\"\\n\""
	print "\t\t\"992: .balign 4\\n\""
	print "\t\t\"993: \" SDT_ADDR \" 990b, _.stapsdt.base, memcached_" name "_semaphore\\n\""
	print "\t\t\".asciz \\\"memcached\\\"\\n\""
	print "\t\t\".asciz \\\"" name "\\\"\\n\""
	print "\t\t\".asciz \\\"" fmt "\\\"\\n\""
	print "\t\t\"994: .balign 4\\n\""
	print "\t\t\".popsection\\n\""
	print "\t\t:" (n ? " : " ops : "") ");"
	print "}"
}

BEGIN {
	print "/* Generated from probes/memcached_dtrace.d by probes/gen-probes.awk."
	print "   Do not edit: change the .d file. */"
	builtin = (dtrace && sdt == "builtin")
	if (part == "c") {
		print "#include \"probes.h\""
		if (!dtrace)
			print "typedef int probes_c_is_empty_without_dtrace;"
		if (builtin)
			builtin_c_prologue()
		# A 5-byte nop at each site instead of sdt.h's 1-byte one: Linux
		# 6.18+ then turns an attached x86-64 uprobe into a call to a
		# trampoline instead of a breakpoint trap (about 10% of a probe
		# hit's cost here); other kernels probe either nop the same way.
		if (dtrace && !builtin) {
			print "#if defined(__x86_64__)"
			print "#undef _SDT_NOP"
			print "#define _SDT_NOP .nops 5"
			print "#endif"
		}
	} else {
		print "#ifndef MEMCACHED_PROBES_H"
		print "#define MEMCACHED_PROBES_H"
		print "#include <stdint.h>"
		if (dtrace) {
			# Probe arguments in registers or immediates only: a
			# memory operand may be %rip-relative, which some tracers
			# cannot read.
			if (!builtin) {
				print "#define STAP_SDT_ARG_CONSTRAINT nr"
				print "#include \"memcached_dtrace.h\""
			}
			# noipa: never inlined or cloned, so the site stays single.
			print "#if defined(__clang__)"
			print "#define PROBE_SITE __attribute__((noinline))"
			print "#else"
			print "#define PROBE_SITE __attribute__((noipa))"
			print "#endif"
		}
		print "#define PROBES_BUILT_IN " (dtrace ? 1 : 0)
	}
	print ""
	nprobes = 0
}

/^[ \t]*probe[ \t]+[a-z_]+[ \t]*\(.*\)[ \t]*;/ {
	line = $0
	sub(/^[ \t]*probe[ \t]+/, "", line)
	name = line; sub(/[ \t]*\(.*$/, "", name)
	args = line; sub(/^[^(]*\(/, "", args); sub(/\)[ \t]*;.*$/, "", args)
	fn = name; gsub(/__/, "_", fn)
	macro = "MEMCACHED_" toupper(fn)
	n = split(args, a, ",")
	params = ""; names = ""; voids = ""
	for (i = 1; i <= n; i++) {
		p = trim(a[i])
		if (p == "" || p == "void") { n = 0; break }
		# The argument's name is the last identifier; the rest is its type.
		an = p; sub(/^.*[^A-Za-z0-9_]/, "", an)
		# Parameters are renamed arg_<name> so they shadow nothing.
		ty = substr(p, 1, length(p) - length(an))
		an = "arg_" an
		params = params (i > 1 ? ", " : "") ty an
		names = names (i > 1 ? ", " : "") an
		voids = voids " (void)" an ";"
	}
	if (n == 0) { params = "void" }
	probes[nprobes++] = name
	if (part == "c") {
		if (builtin)
			builtin_c_site(name, fn, params, n, a)
		else if (dtrace)
			print "void probe_" fn "_fire(" params ") { " macro "(" names "); }"
		next
	}
	if (builtin) {
		print "extern volatile unsigned short memcached_" name "_semaphore;"
		print "#define " macro "_ENABLED() (memcached_" name "_semaphore != 0)"
	}
	if (dtrace) {
		print "void probe_" fn "_fire(" params ") PROBE_SITE;"
		print "static inline int probe_" fn "_enabled(void)"
		print "{ return __builtin_expect(" macro "_ENABLED(), 0); }"
		print "static inline void probe_" fn "(" params ")"
		print "{ if (probe_" fn "_enabled()) probe_" fn "_fire(" names "); }"
	} else {
		print "static inline int probe_" fn "_enabled(void) { return 0; }"
		print "static inline void probe_" fn "(" params ") {" voids " }"
	}
	print ""
}

END {
	if (part == "c")
		exit
	print "/* X(name, semaphore lvalue) for every probe; empty without dtrace. */"
	print "#define PROBE_TABLE(X) \\"
	if (dtrace)
		for (i = 0; i < nprobes; i++)
			print "\tX(\"" probes[i] "\", memcached_" probes[i] "_semaphore) \\"
	print "\t/* end */"
	print "#define PROBE_COUNT " nprobes
	print "#endif"
}
