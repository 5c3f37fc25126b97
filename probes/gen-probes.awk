# Generates the typed probe wrappers from memcached_dtrace.d. Run with
# -v part=h for probes.h, -v part=c for probes.c, and -v dtrace=1 for a
# build with the provider (dtrace=0: every wrapper is a no-op).
#
# probes.h gives each probe probe_<name>_enabled() (its semaphore, non-zero
# while a tracer has it enabled) and probe_<name>(...), which fires the probe
# when enabled. The probe site itself (the SDT note and its nop) is in
# probes.c, in one out-of-line function per probe, probe_<name>_fire(): so
# every probe has exactly one site, whatever calls it, and its semaphore
# counts tracers, not call sites. An idle probe costs a load and a branch.
# Only lines of the form "probe name(type arg, ...);" are read.

function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }

BEGIN {
	print "/* Generated from probes/memcached_dtrace.d by probes/gen-probes.awk."
	print "   Do not edit: change the .d file. */"
	if (part == "c") {
		print "#include \"probes.h\""
		if (!dtrace)
			print "typedef int probes_c_is_empty_without_dtrace;"
		# A 5-byte nop at each site instead of sdt.h's 1-byte one: Linux
		# 6.18+ then turns an attached x86-64 uprobe into a call to a
		# trampoline instead of a breakpoint trap (about 10% of a probe
		# hit's cost here); other kernels probe either nop the same way.
		if (dtrace) {
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
			print "#define STAP_SDT_ARG_CONSTRAINT nr"
			print "#include \"memcached_dtrace.h\""
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
		if (dtrace)
			print "void probe_" fn "_fire(" params ") { " macro "(" names "); }"
		next
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
