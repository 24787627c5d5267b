//! The `WWW-Authenticate` challenge a registry answers `/v2/` with.

#[derive(Debug, PartialEq)]
pub(super) enum Challenge {
    Bearer {
        realm: String,
        service: Option<String>,
    },
    Basic,
}

/// Parse one `WWW-Authenticate` value (RFC 7235: a scheme, then `k=v`
/// auth-params whose values are tokens or quoted strings with `\` escapes).
pub(super) fn parse_challenge(h: &str) -> Option<Challenge> {
    let h = h.trim();
    let (scheme, params) = h
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((h, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    for (k, v) in auth_params(params)? {
        match k.to_ascii_lowercase().as_str() {
            "realm" => realm = Some(v),
            "service" => service = Some(v),
            _ => {}
        }
    }
    Some(Challenge::Bearer {
        realm: realm?,
        service,
    })
}

/// `k="v", k2=v2` pairs; `None` when the list is malformed (an unterminated
/// quote, a key without `=`).
pub(super) fn auth_params(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars
            .peek()
            .is_some_and(|c| c.is_ascii_whitespace() || *c == ',')
        {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_ascii_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(char::is_ascii_whitespace) {
            chars.next();
        }
        if chars.next() != Some('=') || key.is_empty() {
            return None;
        }
        while chars.peek().is_some_and(char::is_ascii_whitespace) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => value.push(chars.next()?),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_ascii_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        assert_eq!(
            parse_challenge(r#"Bearer realm="https://h/service/token",service="harbor-registry""#),
            Some(Challenge::Bearer {
                realm: "https://h/service/token".into(),
                service: Some("harbor-registry".into())
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="harbor""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(r#"bearer service="a,b", realm=http://x/t"#),
            Some(Challenge::Bearer {
                realm: "http://x/t".into(),
                service: Some("a,b".into())
            })
        );
        // Quoted strings keep what a backslash escapes (RFC 7230 quoted-pair).
        assert_eq!(
            parse_challenge(r#"Bearer realm="https://h/t",service="a\"b\\c",scope="x""#),
            Some(Challenge::Bearer {
                realm: "https://h/t".into(),
                service: Some(r#"a"b\c"#.into())
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge(r#"Bearer realm="https://h/t"#), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
    }
}
