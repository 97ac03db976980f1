"""andOTP backups: the plain JSON list of accounts."""
from host_tools.errors import FormatError
from host_tools.formats.base import (Format, Parsed, account_from_fields, add_entry,
                                     parse_json, split_issuer, text_field)


def from_andotp(text):
    """An andOTP plain backup (JSON text or the parsed list)."""
    entries = parse_json(text, "andOTP backup")
    if not isinstance(entries, list):
        raise FormatError("andOTP backup: expected a JSON list of accounts")
    parsed = Parsed()
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            parsed.rejected.append(("entry %d" % number, "not an andOTP account object"))
            continue
        issuer, name = split_issuer(text_field(entry.get("issuer")),
                                    text_field(entry.get("label")))
        add_entry(parsed, number, issuer, name, lambda: account_from_fields(
            name, issuer, entry.get("secret"), entry.get("type"), entry.get("algorithm"),
            entry.get("digits"), entry.get("period"), entry.get("counter")))
    return parsed


FORMAT = Format("andotp", lambda content: content.text.lstrip()[:1] == "[",
                lambda content, password=None: from_andotp(content.json))
