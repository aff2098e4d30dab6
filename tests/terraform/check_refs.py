"""Checks of terraform/ that `terraform validate` would make and checkov does not, for CI
machines without terraform:

- every .tf file parses (python-hcl2);
- every `var.x` is declared and every declared variable is used outside its own block;
- every `local.x` is defined once and every local is used;
- a variable's validation refers only to that variable;
- every templatefile() call names an existing template, passes every variable the template
  uses and no variable it does not use;
- every inline checkov skip names one check and gives its reason.

Usage: python check_refs.py TERRAFORM_DIR. Prints one line per problem; exits 1 if any.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import hcl2

VAR_REF = re.compile(r"(?<![\w.])var\.([A-Za-z_][\w-]*)")
LOCAL_REF = re.compile(r"(?<![\w.])local\.([A-Za-z_][\w-]*)")
TEMPLATEFILE = re.compile(r'templatefile\(\s*"\$\{path\.module\}/([^"]+)"\s*,\s*')
# Keys python-hcl2 adds for comments and block markers: not configuration.
META_KEYS = {"__comments__", "__inline_comments__", "__is_block__", "__start_line__", "__end_line__"}
SKIP = re.compile(r"checkov:skip=([^:\s]*)(?::(.*))?")
SKIP_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")
TEMPLATE_KEYWORDS = {"if", "else", "endif", "for", "endfor", "in", "true", "false", "null"}


def unquote(label: str) -> str:
    return label[1:-1] if len(label) >= 2 and label[0] == label[-1] == '"' else label


def strings(node) -> list[str]:
    """Every string (expressions included) in a parsed HCL value, comments left out."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() if k not in META_KEYS for s in [k, *strings(v)]]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


def parse_all(root: Path) -> tuple[dict[Path, dict], list[str]]:
    parsed, problems = {}, []
    files = sorted(p for p in root.rglob("*.tf") if ".terraform" not in p.parts)
    if not files:
        problems.append(f"{root}: no .tf files")
    for path in files:
        try:
            with path.open() as f:
                parsed[path] = hcl2.load(f)
        except Exception as e:  # python-hcl2 raises lark's errors, which share no base class
            problems.append(f"{path}: does not parse: {e}")
    return parsed, problems


def check_variables(parsed: dict[Path, dict]) -> list[str]:
    problems, declared, used = [], {}, set()
    for path, doc in parsed.items():
        for block in doc.get("variable", []):
            for label, body in block.items():
                name = unquote(label)
                if name in declared:
                    problems.append(f"{path}: variable {name} already declared in {declared[name]}")
                declared[name] = path
                for other in sorted({m for s in strings(body) for m in VAR_REF.findall(s)} - {name}):
                    problems.append(f"{path}: variable {name}'s block refers to var.{other}")
    for path, doc in parsed.items():
        # A variable read only by its own validation is still unused.
        rest = {k: v for k, v in doc.items() if k != "variable"}
        for name in sorted({m for s in strings(rest) for m in VAR_REF.findall(s)}):
            used.add(name)
            if name not in declared:
                problems.append(f"{path}: var.{name} is not declared")
    problems += [f"{declared[n]}: variable {n} is declared but never used" for n in sorted(set(declared) - used)]
    return problems


def check_locals(parsed: dict[Path, dict]) -> list[str]:
    problems, defined, used = [], {}, {}
    for path, doc in parsed.items():
        for block in doc.get("locals", []):
            for name in block:
                if name in META_KEYS:
                    continue
                if name in defined:
                    problems.append(f"{path}: local {name} already defined in {defined[name]}")
                defined[name] = path
        for s in strings(doc):
            for name in LOCAL_REF.findall(s):
                used.setdefault(name, path)
    problems += [f"{path}: local.{n} is not defined" for n, path in sorted(used.items()) if n not in defined]
    problems += [f"{defined[n]}: local {n} is defined but never used" for n in sorted(set(defined) - set(used))]
    return problems


def object_keys(text: str, start: int) -> list[str]:
    """Top-level keys of the HCL object literal starting at text[start] == '{'."""
    depth, quoted, keys, current = 0, False, [], ""
    for ch in text[start:]:
        if quoted:
            quoted = ch != '"' or current.endswith("\\")
        elif ch == '"':
            quoted = True
        elif ch in "{([":
            depth += 1
            if depth == 1:
                continue
        elif ch in "})]":
            depth -= 1
            if depth == 0:
                break
        if depth == 1 and ch == ",":
            keys.append(current)
            current = ""
        else:
            current += ch
    keys.append(current)
    return [k.split("=", 1)[0].strip() for k in keys if "=" in k]


def template_roots(template: str) -> set[str]:
    """Names a template reads: roots of its ${...} and %{...} expressions, minus loop variables."""
    text = template.replace("$${", "").replace("%%{", "")
    exprs = re.findall(r"[$%]\{~?(.*?)~?\}", text, flags=re.S)
    loop_vars = {v for e in exprs for m in re.findall(r"^\s*for\s+([\w\s,]+?)\s+in\b", e) for v in re.split(r"\s*,\s*", m)}
    roots = set()
    for expr in exprs:
        expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
        for m in re.finditer(r"(?<![\w.])([A-Za-z_]\w*)(\s*\()?", expr):
            if not m.group(2) and m.group(1) not in TEMPLATE_KEYWORDS:
                roots.add(m.group(1))
    return roots - loop_vars


def check_templates(root: Path, parsed: dict[Path, dict]) -> list[str]:
    problems = []
    for path, doc in parsed.items():
        for s in strings(doc):
            for call in TEMPLATEFILE.finditer(s):
                template = root / call.group(1)
                if not template.is_file():
                    problems.append(f"{path}: templatefile() names missing {template}")
                    continue
                if s[call.end()] != "{":
                    problems.append(f"{path}: templatefile({call.group(1)}) variables are not an object literal")
                    continue
                passed = set(object_keys(s, call.end()))
                read = template_roots(template.read_text())
                for name in sorted(read - passed):
                    problems.append(f"{template}: uses {name}, which {path.name} does not pass")
                for name in sorted(passed - read):
                    problems.append(f"{path}: passes {name} to {template.name}, which does not use it")
    return problems


def check_skips(root: Path) -> list[str]:
    """Inline skips must each name one check and say why (a few words at least)."""
    problems = []
    for path in sorted(p for p in root.rglob("*.tf") if ".terraform" not in p.parts):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for m in SKIP.finditer(line):
                check, reason = m.group(1), (m.group(2) or "").strip()
                if not SKIP_ID.match(check):
                    problems.append(f"{path}:{number}: checkov skip of {check!r}: not one check id")
                if len(reason.split()) < 3:
                    problems.append(f"{path}:{number}: checkov skip of {check} without a reason")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[1])
    parsed, problems = parse_all(root)
    if not problems:
        problems = (
            check_variables(parsed)
            + check_locals(parsed)
            + check_templates(root, parsed)
            + check_skips(root)
        )
    for p in problems:
        print(p)
    files = len(parsed)
    print(f"terraform references: {files} files parsed, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
