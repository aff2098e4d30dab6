"""check_refs.py finds each kind of mistake it exists for, and nothing in a clean module."""

from __future__ import annotations

from pathlib import Path

import pytest

import check_refs

CLEAN = {
    "variables.tf": """
variable "name" {
  description = "prefix"
  type        = string
  validation {
    condition     = length(var.name) > 1
    error_message = "too short"
  }
}
variable "port" {
  type = number
}
""",
    "main.tf": """
locals {
  label = "${var.name}-x"
  data  = templatefile("${path.module}/templates/boot.tftpl", { name = local.label, port = var.port, envs = {} })
}
output "boot" {
  value = local.data
}
""",
    "templates/boot.tftpl": """#!/bin/bash
echo ${name} $${HOME}
%{ if port > 0 ~}
echo ${port}
%{ endif ~}
%{ for k, v in envs ~}
${k}=${v}
%{ endfor ~}
""",
}


def module(tmp_path: Path, **changes: str) -> list[str]:
    """Problems check_refs reports for CLEAN with `changes` (file name -> new text)."""
    assert set(changes) <= set(CLEAN) | {"more.tf"}, "a change must replace a file of CLEAN"
    files = {**CLEAN, **changes}
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    parsed, problems = check_refs.parse_all(tmp_path)
    if problems:
        return problems
    return (
        check_refs.check_variables(parsed)
        + check_refs.check_locals(parsed)
        + check_refs.check_templates(tmp_path, parsed)
        + check_refs.check_skips(tmp_path)
    )


def test_clean_module_has_no_problems(tmp_path):
    assert module(tmp_path) == []


def test_the_real_module_has_no_problems():
    root = Path(__file__).resolve().parents[2] / "terraform"
    assert check_refs.main(["check_refs.py", str(root)]) == 0


def test_parse_error(tmp_path):
    [problem] = module(tmp_path, **{"main.tf": 'output "x" {\n  value = \n'})
    assert "main.tf: does not parse" in problem


def test_undeclared_variable(tmp_path):
    main = CLEAN["main.tf"].replace("var.port", "var.prot")
    problems = module(tmp_path, **{"main.tf": main})
    assert any("var.prot is not declared" in p for p in problems)
    assert any("variable port is declared but never used" in p for p in problems)


def test_variable_used_only_by_its_validation_or_a_comment_is_unused(tmp_path):
    main = CLEAN["main.tf"].replace("port = var.port", "port = 1") + "# mentions var.port\n"
    problems = module(tmp_path, **{"main.tf": main})
    assert problems == [f"{tmp_path / 'variables.tf'}: variable port is declared but never used"]


def test_validation_referring_to_another_variable(tmp_path):
    variables = CLEAN["variables.tf"].replace("length(var.name) > 1", "length(var.name) > var.port")
    [problem] = module(tmp_path, **{"variables.tf": variables})
    assert "variable name's block refers to var.port" in problem


def test_duplicate_variable(tmp_path):
    problems = module(tmp_path, **{"more.tf": 'variable "port" {\n  type = number\n}\n'})
    assert any("variable port already declared" in p for p in problems)


def test_undefined_and_unused_locals(tmp_path):
    main = CLEAN["main.tf"].replace("name = local.label", "name = local.lable")
    problems = module(tmp_path, **{"main.tf": main})
    assert any("local.lable is not defined" in p for p in problems)
    assert any("local label is defined but never used" in p for p in problems)


def test_template_reads_a_variable_not_passed(tmp_path):
    template = CLEAN["templates/boot.tftpl"] + "echo ${region}\n"
    [problem] = module(tmp_path, **{"templates/boot.tftpl": template})
    assert "uses region, which main.tf does not pass" in problem


def test_template_passed_a_variable_it_does_not_read(tmp_path):
    template = CLEAN["templates/boot.tftpl"].replace("echo ${name} ", "echo ")
    [problem] = module(tmp_path, **{"templates/boot.tftpl": template})
    assert "passes name to boot.tftpl, which does not use it" in problem


def test_escaped_interpolation_is_not_a_template_variable(tmp_path):
    template = CLEAN["templates/boot.tftpl"] + "echo $${#ARRAY[@]} %%{literal}\n"
    assert module(tmp_path, **{"templates/boot.tftpl": template}) == []


def test_missing_template(tmp_path):
    main = CLEAN["main.tf"].replace("templates/boot.tftpl", "templates/boot.tpl")
    problems = module(tmp_path, **{"main.tf": main})
    assert any("templatefile() names missing" in p for p in problems)


@pytest.mark.parametrize(
    "template, roots",
    [
        ("${a} ${b.c} ${d[0]}", {"a", "b", "d"}),
        ('%{ if x == "y" ~}${upper(z)}%{ endif }', {"x", "z"}),
        ("%{ for k, v in m }${k}${v}${w}%{ endfor }", {"m", "w"}),
    ],
)
def test_template_roots(template, roots):
    assert check_refs.template_roots(template) == roots


def test_checkov_skip_needs_one_check_and_a_reason(tmp_path):
    main = CLEAN["main.tf"].replace(
        'output "boot" {\n',
        'output "boot" {\n'
        "  #checkov:skip=CKV_AWS_1:Nothing here is stored, so there is nothing to encrypt.\n"
        "  #checkov:skip=CKV2_AWS_5\n"
        "  #checkov:skip=CKV_AWS_2:because\n"
        "  #checkov:skip=all:everything is fine here\n",
    )
    problems = module(tmp_path, **{"main.tf": main})
    assert [p.split(": ", 1)[1] for p in problems] == [
        "checkov skip of CKV2_AWS_5 without a reason",
        "checkov skip of CKV_AWS_2 without a reason",
        "checkov skip of 'all': not one check id",
    ]
