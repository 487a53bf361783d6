#!/usr/bin/python3
"""Parses Prometheus text (stdin) with prometheus_client's own parser, the
one Python scrapers use, and prints each sample as `name{k="v",...} value`
with labels sorted, after one `# family NAME TYPE` line per family. Any
syntax error makes the parser raise: exit status 1."""
import sys

from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
try:
    for family in text_string_to_metric_families(text):
        print(f"# family {family.name} {family.type}")
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            value = sample.value
            shown = str(int(value)) if float(value).is_integer() else repr(value)
            print(f"{sample.name}{{{labels}}} {shown}")
except Exception as error:  # the parser's own complaint
    print(f"parse error: {error}", file=sys.stderr)
    sys.exit(1)
