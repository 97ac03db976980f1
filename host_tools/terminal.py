"""Text as a terminal can take it. Names come from the token (which older
firmware let hold escape sequences and halves of UTF-16 pairs) and from
import files: printed raw, they could move the cursor, retitle the window
or crash print() with UnicodeEncodeError."""


def safe(text):
    """Control characters (except newline and tab) and lone UTF-16 halves
    become U+FFFD; a pair of halves becomes its one character."""
    text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return "".join("\ufffd" if (ch < " " and ch not in "\n\t") or "\x7f" <= ch <= "\x9f"
                   else ch for ch in text)
