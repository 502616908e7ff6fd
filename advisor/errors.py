"""Errors a user can cause. The CLI prints them as one line and exits 2."""


class AdvisorError(Exception):
    """Bad input: an unknown id, a malformed KB or rule file, an invalid option. One line: a
    newline in it (from a name the user gave) is printed as an escape."""


class AdvisorErrors(AdvisorError):
    """Several errors found at once (every error of the rule files, of the KB), printed one a
    line, at most advisor.limits.MAX_ERRORS_SHOWN of them and then how many more (`errors`
    keeps them all); a newline inside one error (quoted from a file) is printed as an escape."""

    def __init__(self, errors):
        from advisor.limits import MAX_ERRORS_SHOWN
        from advisor.text import escaped

        self.errors = [escaped(e, keep_newlines=False) for e in errors]
        shown = self.errors[:MAX_ERRORS_SHOWN]
        if len(self.errors) > MAX_ERRORS_SHOWN:
            more = len(self.errors) - MAX_ERRORS_SHOWN
            shown.append(f"... and {more:,} more error{'s' if more > 1 else ''} (fix these first)")
        super().__init__("\n".join(shown))

    def __reduce__(self):  # pickled (a generate worker's): rebuilt from the list, not the text
        return type(self), (self.errors,)


def closest(name: str, known: list[str], n: int = 3) -> list[str]:
    import difflib

    lowered = {k.lower(): k for k in known}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.3)
    return [lowered[h] for h in hits]
