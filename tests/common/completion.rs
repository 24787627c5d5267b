//! Driving bash's programmable completion without a terminal: what bash
//! offers for `docker-credential-harbor WORD<TAB>`, shared by
//! tests/suite/completions.rs (the script the binary prints) and
//! tests/suite/packages.rs (the script a package installs).

use crate::bin::NAME;

/// A bash script that runs `load` (which must define the completion for the
/// command, as bash-completion does on the first TAB), calls that
/// completion function for `NAME WORD` as bash would, and prints each offer
/// on a line.
pub fn bash_driver(load: &str, word: &str) -> String {
    format!(
        r#"{load}
f=$(complete -p {NAME} | sed -n 's/.*-F \([^ ]*\).*/\1/p')
[ -n "$f" ] || {{ echo "no completion for {NAME}" >&2; exit 1; }}
COMP_WORDS=({NAME} {word}); COMP_CWORD=1; COMP_LINE="{NAME} {word}"; COMP_POINT=${{#COMP_LINE}}
"$f" {NAME} {word} {NAME}
printf '%s\n' "${{COMPREPLY[@]}}""#
    )
}

/// The offers a driver printed, sorted.
pub fn offers(printed: &str) -> Vec<String> {
    let mut offers: Vec<String> = printed.split_whitespace().map(str::to_string).collect();
    offers.sort();
    offers
}
