"""cgraph validate: a graph file checked without evaluating it, and what it holds."""

from __future__ import annotations

from ..core.errors import printable, short_list
from ..core.graph import Plan
from ..show.formats import to_json
from ..show.table import cell, operand_list, summary_rows


def validate_json(plan: Plan, output: str | None, sinks: list[str]) -> str:
    """`cgraph validate --json`: what the file holds."""
    owners = plan.made_by()
    return to_json(
        {
            "graph": plan.name,
            "valid": True,
            "inputs": [plan.names[i] for i in plan.variables],
            "constants": [plan.names[i] for i in plan.inputs if i in plan.fixed],
            "nodes": [plan.names[i] for i in plan.file_order if not plan.is_input(i)],
            "formulas": {
                node: {"formula": text, "nodes": [_node_record(plan, part) for part in _expansion(plan, node, owners)]}
                for node, (text, _) in plan.formulas.items()
            },
            **({"functions": {f.signature: f.text.strip() for f in plan.functions.values()}} if plan.functions else {}),
            "output": output,
            "sinks": sinks,
            **({} if plan.shapes is None else {"shapes": {plan.names[i]: plan.shapes[i] for i in range(plan.size)}}),
        }
    )


def _expansion(plan: Plan, node: str, owners: dict[str, str]) -> list[str]:
    """The nodes a formula became: its parts (those another formula made first too), then itself;
    `owners` is plan.made_by()."""
    parts, seen, stack = [], {node}, [node]
    while stack:  # the parts it reaches, without going into another formula's own node
        for o in plan.operands(plan.index[stack.pop()]):
            if isinstance(o, str) and o in owners and o not in seen:
                seen.add(o)
                parts.append(o)
                stack.append(o)
    return sorted(parts, key=plan.index.__getitem__) + [node]


def _node_record(plan: Plan, name: str) -> dict:
    i = plan.index[name]
    return {"name": name, "op": plan.op_name(i), "inputs": list(plan.operands(i))}


def validate_text(plan: Plan, source: str, output: str | None, sinks: list[str]) -> str:
    """`cgraph validate`: a short account of what the file holds."""
    inputs = plan.variables
    constants = [i for i in plan.inputs if i in plan.fixed]
    nodes = [i for i in plan.file_order if not plan.is_input(i)]
    counts: dict[str, int] = {}
    for i in nodes:
        counts[plan.op_name(i)] = counts.get(plan.op_name(i), 0) + 1
    lines = [f"{cell(source)}: valid graph '{cell(plan.name)}'"]
    if plan.description:
        lines.append(f"  {cell(plan.description, 200)}")
    lines.append(f"  inputs: {len(inputs):,}" + (f" ({short_list(plan.names[i] for i in inputs)})" if inputs else ""))
    if constants:
        lines.append(f"  constants: {len(constants):,} ({short_list(plan.names[i] for i in constants)})")
    lines.append(
        f"  nodes: {len(nodes):,}"
        + (" (" + ", ".join(f"{n:,} {op}" for op, n in counts.items()) + ")" if nodes else "")
    )
    if plan.functions:
        lines.append(f"  functions: {len(plan.functions):,}, each call's parts nodes:")
        lines.extend(f"    {cell(f.signature)}: {cell(f.text.strip(), 200)}" for f in plan.functions.values())
    if plan.formulas:
        lines.append(f"  formulas: {len(plan.formulas):,}, each part a node:")
        owners = plan.made_by()
        for shown, (node, (text, _)) in enumerate(plan.formulas.items()):
            if shown >= 200:
                lines.append(f"    … and the rest of {len(plan.formulas):,} formulas (--json has them all)")
                break
            lines.append(f"    {cell(node)}: {cell(text, 200)}")
            for name in _expansion(plan, node, owners):
                i = plan.index[name]
                lines.append(f"      {cell(name)} = {plan.op_name(i)}({cell(operand_list(plan.operands(i)), 200)})")
    if plan.shapes is not None:
        lines.append("  shapes (checked before evaluation):")
        lines.extend(f"    {cell(plan.names[i])} {plan.shapes[i]}" for i in summary_rows(plan.size, False))
    if output is not None:
        lines.append(f"  output: {cell(output)}")
    else:
        lines.append(
            f"  output: ambiguous, several nodes are consumed by nothing ({short_list(sinks)}); "
            "add 'output:' or pass --of"
        )
    return printable("\n".join(lines), keep="\n")
