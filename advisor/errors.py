"""Errors a user can cause. The CLI prints them as one line and exits 2."""


class AdvisorError(Exception):
    """Bad input: an unknown id, a malformed KB or rule file, an invalid option."""


def closest(name: str, known: list[str], n: int = 3) -> list[str]:
    import difflib

    lowered = {k.lower(): k for k in known}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.3)
    return [lowered[h] for h in hits]
