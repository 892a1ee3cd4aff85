"""Occurrences of RRULEs by python-dateutil, to check easd's expansion against.

Reads JSON lines {"rule", "dtstart", "from", "before"} (naive ISO date-times) on stdin and
writes one JSON list of ISO date-times per line: the occurrences in [from, before), at most
2,000, or null when dateutil refuses the rule or DTSTART is not itself an occurrence (RFC 5545
leaves that case undefined).
"""

import json
import sys
from datetime import datetime

from dateutil.rrule import rrulestr


def occurrences(case):
    start = datetime.fromisoformat(case["dtstart"])
    frm = datetime.fromisoformat(case["from"])
    before = datetime.fromisoformat(case["before"])
    try:
        rule = rrulestr(case["rule"], dtstart=start)
        first = next(iter(rule), None)
    except (ValueError, TypeError, OverflowError):
        return None
    if first != start:
        return None
    out = []
    for d in rule.xafter(frm, inc=True):
        if d >= before or len(out) >= 2000:
            break
        out.append(d.isoformat())
    return out


for line in sys.stdin:
    print(json.dumps(occurrences(json.loads(line))))
