//! Free text as the contract's records hold it: checked once at the door, so
//! that every front end refuses the same things with the same words.

use super::message::Invalid;

/// Longest title, in characters.
pub const TITLE_MAX: usize = 200;
/// Longest description, comment or findings, in characters.
pub const TEXT_MAX: usize = 10_000;
/// Most tags on a ticket.
pub const TAGS_MAX: usize = 8;
/// Longest attachment link, in bytes.
pub const LINK_MAX: usize = 2000;

/// Check that `text` is `min..=max` characters of multi-line text a record
/// may hold (a description, a comment, findings): line breaks and tabs, but
/// no other control character and no bidirectional formatting character,
/// which can make text read in another order than it is stored.
pub fn check(field: &'static str, text: &str, min: usize, max: usize) -> Result<(), Invalid> {
    check_length(field, text, min, max)?;
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(Invalid::field(field, "含有控制字符", format!("{field} contains control characters")));
    }
    if text.chars().any(is_bidi_control) {
        return Err(bidi(field));
    }
    Ok(())
}

/// Check that `text` is `min..=max` characters of single-line text (a
/// title, a name): no control character at all (line breaks included), no
/// line or paragraph separator and no format character (bidirectional
/// controls, zero-width characters, soft hyphens), so that it reads the
/// same wherever it is shown, in an email's subject or on one line of a log.
pub fn check_line(field: &'static str, text: &str, min: usize, max: usize) -> Result<(), Invalid> {
    check_length(field, text, min, max)?;
    if text.chars().any(is_bidi_control) {
        return Err(bidi(field));
    }
    if text.chars().any(|c| c.is_control() || is_separator(c)) {
        return Err(Invalid::field(
            field,
            "只能是一行文字，不能含有换行或控制字符",
            format!("{field} must be one line, without line breaks or control characters"),
        ));
    }
    if text.chars().any(is_format) {
        return Err(Invalid::field(
            field,
            "含有不可见的格式字符（如零宽字符）",
            format!("{field} contains invisible format characters (such as zero-width characters)"),
        ));
    }
    Ok(())
}

fn check_length(field: &'static str, text: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let n = text.chars().count();
    if n < min || n > max {
        return Err(Invalid::field(
            field,
            format!("长度须为 {min} 到 {max} 个字符（现为 {n} 个）"),
            format!("{field} must be {min} to {max} characters (got {n})"),
        ));
    }
    // Spaces alone say nothing: a title or a comment that must be given
    // must hold something to read.
    if min > 0 && text.trim().is_empty() {
        return Err(Invalid::field(
            field,
            "不能只有空格",
            format!("{field} must not be blank (spaces only)"),
        ));
    }
    Ok(())
}

fn bidi(field: &'static str) -> Invalid {
    Invalid::field(
        field,
        "含有改变文字方向的控制字符",
        format!("{field} contains bidirectional control characters"),
    )
}

/// The characters that change the direction text is shown in: marks,
/// embeddings, overrides and isolates (Unicode's Bidi_Control property).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A format character (Unicode general category Cf): invisible, yet it
/// changes how the text around it is shown.
pub fn is_format(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    c.general_category() == GeneralCategory::Format
}

/// A line or paragraph separator (U+2028, U+2029): a line break by another name.
fn is_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}')
}

/// Check a tag: 1 to 40 of `a-z`, `0-9`, `_`.
pub fn check_tag(tag: &str) -> Result<(), Invalid> {
    let ok = (1..=40).contains(&tag.len())
        && tag.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Invalid::field(
            "tags",
            format!("标签“{tag}”只能由 1 到 40 个小写字母、数字或下划线组成"),
            format!("tag \"{tag}\" must be 1 to 40 of a-z, 0-9, _"),
        ))
    }
}

/// Check a list of tags: at most [`TAGS_MAX`], each well formed.
pub fn check_tags(tags: &[String]) -> Result<(), Invalid> {
    if tags.len() > TAGS_MAX {
        return Err(Invalid::field(
            "tags",
            format!("标签最多 {TAGS_MAX} 个"),
            format!("at most {TAGS_MAX} tags"),
        ));
    }
    tags.iter().try_for_each(|t| check_tag(t))
}

/// Check a link to a photo or a report: an http(s) URL of at most [`LINK_MAX`] bytes.
pub fn check_link(link: &str) -> Result<(), Invalid> {
    if (link.starts_with("https://") || link.starts_with("http://")) && link.len() <= LINK_MAX {
        Ok(())
    } else {
        Err(Invalid::field(
            "attachments",
            format!("附件“{link}”不是 http(s) 链接"),
            format!("attachment \"{link}\" is not an http(s) URL"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_bounds_and_control_characters() {
        assert!(check("title", "平台无法登录", 1, TITLE_MAX).is_ok());
        assert_eq!(check("title", "", 1, TITLE_MAX).expect_err("refused").field, Some("title"));
        assert!(check("description", "line\nbreak\ttab", 0, TEXT_MAX).is_ok());
        let bell = check("title", "a\u{7}b", 1, TITLE_MAX).expect_err("refused");
        assert_eq!(bell.message.en, "title contains control characters");
        assert!(
            check("title", &"长".repeat(201), 1, TITLE_MAX)
                .expect_err("refused")
                .message
                .zh
                .contains("现为 201 个")
        );
    }

    #[test]
    fn single_lines_refuse_breaks_bidi_and_invisible_characters() {
        assert!(check_line("title", "平台无法登录 (VPN) — 100%", 1, TITLE_MAX).is_ok());
        for bad in ["a\r\nBcc: x", "a\nb", "tab\there", "a\u{2028}b", "a\u{7}"] {
            let e = check_line("title", bad, 1, TITLE_MAX).expect_err("refused");
            assert_eq!(e.field, Some("title"), "{bad:?}");
            assert!(e.message.en.contains("one line"), "{bad:?}: {}", e.message.en);
        }
        for bad in ["invoice\u{202E}fdp.exe", "a\u{2066}b\u{2069}", "\u{200F}x"] {
            let e = check_line("title", bad, 1, TITLE_MAX).expect_err("refused");
            assert!(e.message.en.contains("bidirectional"), "{bad:?}");
        }
        for bad in ["zero\u{200B}width", "join\u{200D}er", "soft\u{AD}hyphen", "\u{FEFF}bom"] {
            let e = check_line("title", bad, 1, TITLE_MAX).expect_err("refused");
            assert!(e.message.en.contains("invisible"), "{bad:?}");
        }
        for blank in [" ", "   ", "\u{3000}"] {
            let e = check_line("title", blank, 1, TITLE_MAX).expect_err("blank");
            assert!(e.message.en.contains("blank"), "{blank:?}");
            assert!(check("body", blank, 1, TEXT_MAX).is_err(), "{blank:?}");
        }
        assert!(check("findings", " ", 0, TEXT_MAX).is_ok(), "optional text may be blank");
        // Multi-line text keeps its line breaks, but not a direction override.
        assert!(check("findings", "第一行\r\n第二行\t完", 0, TEXT_MAX).is_ok());
        assert!(check("findings", "a\u{202E}b", 0, TEXT_MAX).is_err());
        assert!(check("findings", "a\u{1b}[31mred", 0, TEXT_MAX).is_err());
    }

    #[test]
    fn tags_and_links() {
        assert!(check_tags(&["complex_fault".into()]).is_ok());
        assert!(check_tags(&["Bad".into()]).is_err());
        assert!(check_tags(&vec!["a".to_owned(); 9]).is_err());
        assert!(check_link("https://example.org/p.jpg").is_ok());
        assert!(check_link("ftp://example.org/p.jpg").is_err());
        assert!(check_link(&format!("https://{}", "a".repeat(LINK_MAX))).is_err());
    }
}
