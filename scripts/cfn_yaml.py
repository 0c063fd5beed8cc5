"""CloudFormation YAML, read the one way both scripts need it (cfn_resolve.py, package_dist.py).

Short-form intrinsics load as their long form: ``!Ref x`` as ``{"Ref": x}``, ``!Condition c`` as
``{"Condition": c}``, ``!GetAtt A.B`` as ``{"Fn::GetAtt": ["A", "B"]}`` and every other ``!Name v`` as
``{"Fn::Name": v}``. A mapping with a duplicate key is refused (``yaml.constructor.ConstructorError``,
a ``yaml.YAMLError``): YAML would keep the last one silently, CloudFormation refuses the template.
"""

from __future__ import annotations

import yaml


class Loader(yaml.SafeLoader):
    """A SafeLoader with CloudFormation's short-form tags and duplicate keys refused."""


def _tag(loader: yaml.Loader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        logical, _, attr = value.partition(".")
        value = [logical, attr]
    return {f"Fn::{suffix}": value}


def _mapping(loader: yaml.Loader, node: yaml.MappingNode, deep: bool = False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


Loader.add_multi_constructor("!", _tag)
Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load(stream) -> object:
    """The document in ``stream`` (text or a file), CloudFormation's way."""
    return yaml.load(stream, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
