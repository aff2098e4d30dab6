"""Renders terraform/templates/*.tftpl the way templatefile() does, for the subset of
Terraform's template language they use: ${name}, %{ if name }...%{ else }...%{ endif },
%{ for k, v in name }...%{ endfor }, strip markers (~) and the $${ / %%{ escapes. Anything
else raises, so a template that outgrows this renderer fails its tests instead of rendering
wrongly."""

from __future__ import annotations

import re

TOKEN = re.compile(r"\$\$\{|%%\{|([$%])\{(~?)\s*(.*?)\s*(~?)\}", re.S)
IDENT = re.compile(r"^[A-Za-z_]\w*$")
FOR = re.compile(r"^for\s+(\w+)\s*,\s*(\w+)\s+in\s+(\w+)$")


class TemplateError(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    """("text", literal) and ("expr" | "directive", body) tokens, strip markers applied."""
    out: list[tuple[str, str]] = []
    pos, strip_next = 0, False
    for m in TOKEN.finditer(text):
        literal = text[pos : m.start()]
        pos = m.end()
        if m.group(0) in ("$${", "%%{"):
            literal += m.group(0)[1:]
            out.append(("text", literal.lstrip() if strip_next else literal))
            strip_next = False
            continue
        if strip_next:
            literal = literal.lstrip()
        if m.group(2):
            literal = literal.rstrip()
        out.append(("text", literal))
        out.append(("expr" if m.group(1) == "$" else "directive", m.group(3)))
        strip_next = bool(m.group(4))
    rest = text[pos:]
    out.append(("text", rest.lstrip() if strip_next else rest))
    return out


def _lookup(name: str, scope: dict):
    if not IDENT.match(name):
        raise TemplateError(f"unsupported expression: {name!r}")
    if name not in scope:
        raise TemplateError(f"undefined template variable: {name}")
    return scope[name]


def _render(tokens: list[tuple[str, str]], i: int, scope: dict, until: set[str]) -> tuple[str, int, str]:
    """Renders from tokens[i] up to a directive in `until`; returns (text, index after it, it)."""
    out = []
    while i < len(tokens):
        kind, body = tokens[i]
        i += 1
        if kind == "text":
            out.append(body)
        elif kind == "expr":
            value = _lookup(body, scope)
            out.append(str(value).lower() if isinstance(value, bool) else str(value))
        elif body in until:
            return "".join(out), i, body
        elif body.startswith("if "):
            cond = _lookup(body[3:].strip(), scope)
            then, i, end = _render(tokens, i, scope, {"else", "endif"})
            other = ""
            if end == "else":
                other, i, _ = _render(tokens, i, scope, {"endif"})
            out.append(then if cond else other)
        elif m := FOR.match(body):
            key_name, value_name, collection = m.groups()
            start, rendered = i, []
            items = _lookup(collection, scope)
            for key, value in (items.items() if isinstance(items, dict) else enumerate(items)):
                text, i, _ = _render(tokens, start, {**scope, key_name: key, value_name: value}, {"endfor"})
                rendered.append(text)
            if not items:
                _, i, _ = _render(tokens, start, {**scope, key_name: "", value_name: ""}, {"endfor"})
            out.append("".join(rendered))
        else:
            raise TemplateError(f"unsupported directive: {body!r}")
    if until:
        raise TemplateError(f"missing %{{ {' or '.join(sorted(until))} }}")
    return "".join(out), i, ""


def render(template: str, variables: dict) -> str:
    text, _, _ = _render(_tokens(template), 0, variables, set())
    return text
