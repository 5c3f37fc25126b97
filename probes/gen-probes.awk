# Generates probes.h from memcached_dtrace.d: one typed static inline wrapper
# per probe (probe_<name>() and probe_<name>_enabled()), plus PROBE_TABLE, the
# list of probe names with their semaphores. Run with -v dtrace=1 for a build
# with the provider (bodies call the dtrace -h macros), dtrace=0 for no-ops.
# Only lines of the form "probe name(type arg, ...);" are read.

function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }

BEGIN {
	print "/* Generated from probes/memcached_dtrace.d by probes/gen-probes.awk."
	print "   Do not edit: change the .d file. */"
	print "#ifndef MEMCACHED_PROBES_H"
	print "#define MEMCACHED_PROBES_H"
	print "#include <stdint.h>"
	if (dtrace) {
		# Probe arguments in registers or immediates only: a memory
		# operand may be %rip-relative, which some tracers cannot read.
		print "#define STAP_SDT_ARG_CONSTRAINT nr"
		print "#include \"memcached_dtrace.h\""
	}
	print "#define PROBES_BUILT_IN " (dtrace ? 1 : 0)
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
	print "static inline int probe_" fn "_enabled(void)"
	if (dtrace) print "{ return " macro "_ENABLED(); }"
	else print "{ return 0; }"
	print "static inline void probe_" fn "(" params ")"
	if (dtrace) print "{ " macro "(" names "); }"
	else print "{" voids " }"
	print ""
	probes[nprobes++] = name
}

END {
	print "/* X(name, semaphore lvalue) for every probe; empty without dtrace. */"
	print "#define PROBE_TABLE(X) \\"
	if (dtrace)
		for (i = 0; i < nprobes; i++)
			print "\tX(\"" probes[i] "\", memcached_" probes[i] "_semaphore) \\"
	print "\t/* end */"
	print "#define PROBE_COUNT " nprobes
	print "#endif"
}
