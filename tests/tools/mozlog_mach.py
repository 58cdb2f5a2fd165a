#!/usr/bin/env python3
"""Print a raw log through the real mozlog package's mach formatter
(verbose, without colors, times counted from the log's first entry).

usage: mozlog_mach.py RAW_LOG
"""
import json
import sys

from mozlog import handlers, structuredlog
from mozlog.formatters import MachFormatter


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        entries = [json.loads(line) for line in f if line.strip()]
    start = entries[0]["time"] / 1000.0 if entries else None
    formatter = MachFormatter(start_time=start, verbose=True, disable_colors=True)
    logger = structuredlog.StructuredLogger("mach-compare")
    logger.add_handler(handlers.StreamHandler(sys.stdout, formatter))
    for data in entries:
        logger.log_raw(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
