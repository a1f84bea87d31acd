"""How a fingerprint is applied to content (silo.credit's _hit): its strong alternatives, or, for the whole answer, a
weak one stated as the answer in a sentence ("the answer is false", "Carol wins"), not a number that merely occurs.
"""

from __future__ import annotations

import re
from functools import lru_cache

from silo.evidence import Fingerprint
from silo.evidence_text import Parsed, parse, sentences

# words that state a result; "so" only as a conclusion (sentence-initial "So, ..." / "So the ...", or "..., so 4"),
# not "so far", "so that", "or so", "so I"; "most" not as a quantifier ("most of", "at most"); a question states nothing
_ANSWERISH = re.compile(r"\b(?:answers?|result|winner|wins?|won|(?<!\bat )most(?! of\b)|total|overall|global|"
                        r"final(?:ly)?|conclusion|therefore|thus|hence|anywhere|nobody|nowhere|none of (?:us|them)|"
                        r"every(?:one|body)|all of us|any(?:one)?|there (?:is|are))\b|"
                        r"(?:^[\s*_>#-]*|[,;(\u2013\u2014\u2192]\s*)so\b(?:\s*[,:]|\s+(?:the|it(?:'s|\u2019s|\s+is|\s+was)|"
                        r"that(?:'s|\u2019s|\s+is|\s+makes|\s+gives)|we\s+(?:get|have|got)|[-+\u2212]?\d|true|false|yes|no)\b)",
                        re.IGNORECASE)
_QUESTION = re.compile(r"\?[\s\"'*_)\]]*$")


@lru_cache(maxsize=100000)
def _rest(fp: Fingerprint) -> Fingerprint | None:
    return fp.without_scalars()


def _hit(fp: Fingerprint, p: Parsed, view, whole: bool) -> bool:
    """Whether fp matches content p (all alternatives if `whole`, else strong ones only). `view` (None, or a
    callable giving Replay._view of p, computed only when needed): single-number alternatives must match there.
    """
    strong = fp.strict(p)
    if not whole or strong:
        if not strong:
            return False
        rest = _rest(fp)
        if rest is fp or view is None or (rest is not None and rest.strict(p)):
            return True  # no single-number alternative, or one of the others matches: nothing to check outside pastes
        free = view()  # (made only where the answer depends on it: it costs a pass over the text and its sentences)
        return free is None or fp.strict(free)
    if type(fp).strict is _PLAIN_STRICT and not fp.weak:
        return False  # (its strict is "not weak and matches": matches(p) is False, not tried again)
    if not fp.matches(p):
        return False
    # only a weak alternative (a name, a boolean, a small number) matched: the whole answer, which must be
    # stated as one ("the answer is false", "Carol wins"), not merely occur (a name inside pasted ballots)
    q = (view() if view is not None else None) or p
    # a one-line code fence is read with the sentence before it (as lines, "The answer is ```json", "true" say nothing)
    return any(_ANSWERISH.search(sent) and not _QUESTION.search(sent) and fp.matches(parse(sent))
               for sent in sentences(_inline_fences(q.text)))


_PLAIN_STRICT = Fingerprint.strict


def _inline_fences(text: str) -> str:
    """The text with every code fence whose body is one line written inline (multi-line fences, pasted data, stay)."""
    return _FENCE_ONE.sub(r" \1 ", text) if "```" in text else text


_FENCE_ONE = re.compile(r"```[\w-]*[ \t]*\n[ \t]*([^\n`]*?)[ \t]*\n[ \t]*```")
