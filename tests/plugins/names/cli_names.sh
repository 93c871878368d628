#!/bin/sh
# `wirepipe names`: the pipeline the names plugin ships (names-tsv.json) behind the command.
# TSV rows in input order, one per line; a bad line gets an error naming its line number
# and an empty row; --state carries clusters over; usage and configuration errors.
. "$(dirname "$0")/../../tools/cli-lib.sh"

cd "$T" || exit 1
A1000=$(printf '%01000d' 0 | tr 0 a)
B1001=$(printf '%01001d' 0 | tr 0 b)
printf 'Mohammad Bagheri\n\nBaqeri\r\n%s\n%s\n\377\376name\nTab\there\n12345\nRecep Tayyip Erdogan\nlast no newline' \
    "$A1000" "$B1001" >bad.txt
run bad "$WIREPIPE" names bad.txt
expect_rc 0 "bad lines are not a failure" bad
TAB=$(printf '\t')
cat >bad.expected <<EOF
Mohammad Bagheri${TAB}Mohammad Bagheri${TAB}wp:a153e6a068d34e8b${TAB}1.000
${TAB}${TAB}${TAB}
Baqeri${TAB}Mohammad Bagheri${TAB}wp:a153e6a068d34e8b${TAB}0.920
${A1000}${TAB}${A1000}${TAB}wp:44bd8ad473cd9906${TAB}1.000
${TAB}${TAB}${TAB}
${TAB}${TAB}${TAB}
Tab here${TAB}Tab here${TAB}wp:c77b4f87936f136d${TAB}1.000
12345${TAB}12345${TAB}wp:43e46cf1eb6634ea${TAB}0.000
Recep Tayyip Erdogan${TAB}Recep Tayyip Erdoğan${TAB}Q39259${TAB}1.000
last no newline${TAB}last no newline${TAB}wp:4b3100f120d1be62${TAB}1.000
EOF
if cmp -s "$T/bad.out" bad.expected; then ok "rows in input order, empty rows for bad lines"; else
    fail "rows differ from the expected ones"
    diff bad.expected "$T/bad.out" | head -20 >&2
fi
expect_in "$T/bad.err" "line 2: empty line" "an empty line is named by number"
expect_in "$T/bad.err" "line 5: line longer than 1000 bytes; not a name" "a long line is named"
expect_in "$T/bad.err" "line 6: invalid UTF-8" "invalid UTF-8 is named"
expect_not_in "$T/bad.err" "line 4:" "1000 bytes is still a name"
run bad_stdin sh -c "'$WIREPIPE' names - <bad.txt"
if cmp -s "$T/bad_stdin.out" bad.expected; then ok "'-' reads standard input"; else
    fail "'-' gives other rows"
fi
run bad_noarg sh -c "'$WIREPIPE' names <bad.txt"
if cmp -s "$T/bad_noarg.out" bad.expected; then ok "no FILE reads standard input"; else
    fail "no FILE gives other rows"
fi
if [ -e .wirepipe ]; then fail "without --state nothing is written to ./.wirepipe"; else
    ok "without --state nothing is written to ./.wirepipe"
fi

: >empty.txt
run empty "$WIREPIPE" names empty.txt
expect_rc 0 "empty input" empty
expect_eq "$(wc -c <"$T/empty.out" | tr -d ' ')" "0" "empty input, no rows"

# Clusters learnt in one run are found by the next through the state folder.
printf 'Mohammad Bagheri\n' >day1.txt
printf 'B\304\201qer\304\253\n' >day2.txt
run day1 "$WIREPIPE" names --no-gazetteer --state state day1.txt
expect_rc 0 "--state, first run" day1
run day2 "$WIREPIPE" names --no-gazetteer --state state day2.txt
expect_rc 0 "--state, second run" day2
run alone "$WIREPIPE" names --no-gazetteer day2.txt
id1=$(cut -f3 "$T/day1.out")
expect_eq "$(cut -f3 "$T/day2.out")" "$id1" "--state: a later spelling joins the stored cluster"
expect_eq "$(cut -f2 "$T/day2.out")" "Mohammad Bagheri" "--state: the stored canonical"
if [ "$(cut -f3 "$T/alone.out")" != "$id1" ]; then ok "without --state nothing carries over"; else
    fail "without --state the cluster carried over"
fi
if [ -f state/state.db ]; then ok "--state DIR holds the store"; else fail "no store in DIR"; fi

# Gazetteer layers: relative paths are taken from the current folder.
mkdir sub
cp "$WP_TEST_FIXTURES/names/extra-gazetteer.tsv" sub/g.tsv
printf 'Zarathustra Testperson\n' >z.txt
run layer "$WIREPIPE" names --gazetteer sub/g.tsv z.txt
expect_rc 0 "--gazetteer with a relative path" layer
expect_eq "$(cut -f3 "$T/layer.out")" "Q999999999" "--gazetteer adds persons"

run conflict "$WIREPIPE" names --no-gazetteer --gazetteer sub/g.tsv z.txt
expect_rc 2 "--no-gazetteer with --gazetteer" conflict
expect_in "$T/conflict.err" "--no-gazetteer and --gazetteer exclude each other" "conflict message"
run two "$WIREPIPE" names z.txt z.txt
expect_rc 2 "two input files" two
expect_in "$T/two.err" "at most one input file" "two files message"
run nofile "$WIREPIPE" names "$T/missing.txt"
expect_rc 2 "a missing input file" nofile
expect_in "$T/nofile.err" "cannot open '$T/missing.txt'" "missing input is named"
run badopt "$WIREPIPE" names --frobnicate
expect_rc 2 "an unknown option" badopt
run help "$WIREPIPE" names --help
expect_rc 0 "--help" help
expect_in "$T/help.out" "usage: wirepipe names" "--help prints the usage"
run nogaz "$WIREPIPE" names --gazetteer "$T/none.tsv" z.txt
expect_rc 78 "a missing gazetteer is a configuration error" nogaz
expect_in "$T/nogaz.err" "cannot open gazetteer '$T/none.tsv'" "missing gazetteer is named"

finish
