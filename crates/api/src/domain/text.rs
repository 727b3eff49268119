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

/// Check that `text` is `min..=max` characters of text a record may hold:
/// no control characters but line breaks and tabs.
pub fn check(field: &'static str, text: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let n = text.chars().count();
    if n < min || n > max {
        return Err(Invalid::field(
            field,
            format!("长度须为 {min} 到 {max} 个字符（现为 {n} 个）"),
            format!("{field} must be {min} to {max} characters (got {n})"),
        ));
    }
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(Invalid::field(field, "含有控制字符", format!("{field} contains control characters")));
    }
    Ok(())
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
    fn tags_and_links() {
        assert!(check_tags(&["complex_fault".into()]).is_ok());
        assert!(check_tags(&["Bad".into()]).is_err());
        assert!(check_tags(&vec!["a".to_owned(); 9]).is_err());
        assert!(check_link("https://example.org/p.jpg").is_ok());
        assert!(check_link("ftp://example.org/p.jpg").is_err());
        assert!(check_link(&format!("https://{}", "a".repeat(LINK_MAX))).is_err());
    }
}
