# md2man.awk: turns docs/probes.md into the manual page memcached-probes(7).
# It knows the few Markdown forms that page uses: "#"/"##" headings,
# paragraphs, "* " bullet lists, 4-space code blocks, and the probe tables
# (| probe | arguments | fires | stability |), which become one tagged
# paragraph per probe: "name(arguments)", then what it does.
# Usage: awk -v date=YYYY-MM-DD -v version=X -f md2man.awk probes.md

function esc(s) {
	gsub(/\\/, "\\e", s)
	gsub(/-/, "\\-", s)
	return s
}
# Inline markup: `code` and **bold** in bold, *emphasis* in italics; no
# markup inside code.
function inline(s,   out, n, part, i, t) {
	n = split(s, part, "`")
	out = ""
	for (i = 1; i <= n; i++) {
		t = esc(part[i])
		if (i % 2 == 0 && i < n) { out = out "\\fB" t "\\fR"; continue }
		if (i % 2 == 0) t = "`" t       # an unpaired backquote
		while (match(t, /\*\*[^*]+\*\*/))
			t = substr(t, 1, RSTART - 1) "\\fB" substr(t, RSTART + 2, RLENGTH - 4) "\\fR" substr(t, RSTART + RLENGTH)
		while (match(t, /\*[^* ][^*]*\*/))
			t = substr(t, 1, RSTART - 1) "\\fI" substr(t, RSTART + 1, RLENGTH - 2) "\\fR" substr(t, RSTART + RLENGTH)
		out = out t
	}
	return out
}
# A text line must not start with a control character.
function line(s) { if (s ~ /^[.']/) s = "\\&" s; print s }
function flush_para() {
	if (para != "") { print ".PP"; line(inline(para)) }
	para = ""
}
function flush_item() {
	if (item != "") { print ".IP \\(bu 2"; line(inline(item)) }
	item = ""
}
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
function end_code() { if (incode) { print ".fi"; print ".RE"; incode = 0 } }

BEGIN {
	print ".\\\" Generated from docs/probes.md by docs/md2man.awk. Do not edit."
	print ".TH MEMCACHED-PROBES 7 \"" date "\" \"memcached-sdt " version "\" \"memcached-sdt\""
	print ".SH NAME"
	print "memcached-probes \\- the memcached USDT probes: names, arguments, when they fire"
}

# Code block: four spaces, inside or after a blank line.
/^    / && (incode || prev_blank) {
	flush_para(); flush_item()
	if (!incode) { print ".RS 4"; print ".nf"; incode = 1 }
	s = substr($0, 5)
	s = esc(s)
	if (s ~ /^[.']/) s = "\\&" s
	print s
	prev_blank = 0
	next
}
/^$/ {
	if (incode) { codeblank++ } else { flush_para(); flush_item() }
	prev_blank = 1
	next
}
{ if (incode) end_code(); prev_blank = 0 }
/^# / { next }      # the title: .TH and NAME stand for it
/^## / {
	flush_para(); flush_item()
	print ".SH " toupper(esc(substr($0, 4)))
	next
}
# Tables: skip the header and separator rows.
/^\|/ {
	flush_para(); flush_item()
	n = split($0, cell, "|")
	name = trim(cell[2])
	if (name == "probe" || name ~ /^-+$/) next
	args = trim(cell[3]); gsub(/`/, "", args)
	print ".TP"
	print "\\fB" esc(name) "\\fR(" esc(args) ")"
	line(inline(trim(cell[4])))
	print ".br"
	print "Stability: " esc(trim(cell[5])) "."
	next
}
/^\* / { flush_para(); flush_item(); item = substr($0, 3); next }
item != "" && /^  / { item = item " " trim($0); next }
{ para = para (para == "" ? "" : " ") $0 }
END {
	end_code(); flush_para(); flush_item()
}
