"""Reading a YAML file with its node tree (for line numbers): the one strict loader that the KB,
the rule files, their test cases, the objective and advisor's own data files all use.

Strict, because a YAML file is input from a user:
- only a regular file of at most advisor.limits.MAX_YAML_BYTES is read (advisor.readfile);
- a key given twice in one mapping is an error at the second one's line (PyYAML keeps the last
  silently, so a typo'd copy would override the value a reader sees first);
- aliases may reuse anchored nodes, but the tree they expand to may hold at most
  MAX_YAML_NODES nodes, and may not contain itself (a billion-laughs file expands to billions
  of values: anything that walks it, a message quoting it or a JSON dump, would run out of
  memory);
- an integer literal longer than MAX_INT_DIGITS digits is an error (Python refuses to convert
  one over 4,300 digits with a ValueError);
- messages quote at most a short prefix of a value (advisor.limits.short).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from advisor.limits import MAX_INT_DIGITS, MAX_YAML_BYTES, MAX_YAML_NODES, short

if TYPE_CHECKING:
    import yaml


@lru_cache(maxsize=None)
def loader():
    """The strict loader class: PyYAML's C safe loader where libyaml is built in, else the
    Python one, with duplicate keys and over-long integers refused. yaml is imported here, not
    at module level: a run that reads only its caches never parses YAML."""
    import re

    import yaml
    from yaml.constructor import ConstructorError

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class StrictLoader(base):
        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen = set()
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        twice = key in seen
                        seen.add(key)
                    except TypeError:  # an unhashable key: the base class says so
                        continue
                    if twice:
                        raise ConstructorError(None, None, f"duplicate key {short(key)}",
                                               key_node.start_mark)
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_int(self, node):
            length = len(str(node.value))
            if length > MAX_INT_DIGITS + 3:  # digits, a sign and a 0x / 0o / 0b prefix
                raise ConstructorError(None, None, f"an integer of {length} characters",
                                       node.start_mark)
            _no_yaml11_number(node)
            return super().construct_yaml_int(node)

        def construct_yaml_float(self, node):
            _no_yaml11_number(node)
            return super().construct_yaml_float(node)

    def _no_yaml11_number(node) -> None:
        """YAML 1.1 reads 1:30 as 90 (base 60) and 017 as 15 (octal), which no one writing a
        number means (hostile pass 14A: objective.yaml took 1:30 as 90): refused, naming both
        readings, where the value is not quoted."""
        text = str(node.value)
        if not node.style and ":" in text:
            raise ConstructorError(None, None, f"{short(text)} reads as a base-60 number in YAML "
                                   "1.1 (1:30 is 90): write the number, or quote the text",
                                   node.start_mark)
        if not node.style and re.fullmatch(r"[-+]?0[0-7_]+", text):
            raise ConstructorError(None, None, f"{short(text)} reads as an octal number in YAML "
                                   f"1.1 ({text} is {int(text.replace('_', ''), 8)}): write it "
                                   "without the leading zero, or quote the text",
                                   node.start_mark)

    StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)
    StrictLoader.add_constructor("tag:yaml.org,2002:float", StrictLoader.construct_yaml_float)
    # YAML 1.2 floats without a dot (1e-9, 2E+3), which PyYAML's YAML 1.1 rules read as strings:
    # a KB price of 1e-9 is then refused for its bound, not as "not a valid number"
    StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float",
                                       re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"),
                                       list("-+0123456789"))
    # the mapping constructor SafeLoader registers calls construct_mapping: duplicate keys are
    # checked for every mapping, also inside sequences
    return StrictLoader


def __getattr__(name: str):
    if name == "Loader":
        return loader()
    raise AttributeError(name)


def is_mapping(node) -> bool:
    """Whether a node of read_yaml's tree is a mapping (yaml.MappingNode), without importing yaml."""
    return getattr(node, "id", None) == "mapping"


def is_sequence(node) -> bool:
    """Whether a node of read_yaml's tree is a sequence (yaml.SequenceNode)."""
    return getattr(node, "id", None) == "sequence"


class YamlFileError(Exception):
    """A file that cannot be read or parsed: `line` (1-based) and a one-line `message`."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


def _children(node) -> list:
    if is_mapping(node):
        return [n for pair in node.value for n in pair]
    if is_sequence(node):
        return list(node.value)
    return []


def expanded_size(node, limit: int = MAX_YAML_NODES) -> int:
    """The number of nodes the tree under `node` holds with every alias expanded, counted
    without expanding it (shared nodes are counted once and reused); YamlFileError when it
    exceeds `limit` or when an alias contains itself."""
    done: dict[int, int] = {}
    active: set[int] = set()
    stack = [(node, False)]
    while stack:
        n, leaving = stack.pop()
        key = id(n)
        if leaving:
            active.discard(key)
            size = 1 + sum(done[id(c)] for c in _children(n))
            if size > limit:
                raise YamlFileError(n.start_mark.line + 1,
                                    f"aliases expand to more than {limit:,} values; "
                                    "write the values out or use fewer aliases")
            done[key] = size
            continue
        if key in done:
            continue
        if key in active:
            raise YamlFileError(n.start_mark.line + 1, "an alias refers to a node that contains it")
        active.add(key)
        stack.append((n, True))
        for c in _children(n):
            if id(c) in active:
                raise YamlFileError(c.start_mark.line + 1,
                                    "an alias refers to a node that contains it")
            if id(c) not in done:
                stack.append((c, False))
    return done[id(node)]


def parse_yaml(text: str) -> tuple[yaml.Node | None, object]:
    """(the node tree, the data) of a YAML document, read strictly (see the module's doc);
    YamlFileError naming the line otherwise."""
    import yaml

    ld = loader()(text)
    try:
        node = ld.get_single_node()
        if node is None:
            return None, None
        expanded_size(node)
        return node, ld.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlFileError(mark.line + 1 if mark else 1, f"invalid YAML: {problem}") from None
    except RecursionError:
        raise YamlFileError(1, "invalid YAML: nested too deeply") from None
    except (ValueError, IndexError, TypeError, OverflowError, AttributeError) as exc:
        # a tagged value of the wrong form (`!!int` of nothing, `!!float abc`, `!!timestamp x`):
        # PyYAML's constructors raise these
        raise YamlFileError(1, f"invalid YAML: a value does not fit its tag ({short(str(exc), 60)})") from None
    finally:
        ld.dispose()


def read_yaml(path: Path) -> tuple[yaml.Node | None, object]:
    """(the node tree, the data) of the file; YamlFileError naming the line otherwise (also for a
    file that is not a regular file, cannot be read or is larger than MAX_YAML_BYTES)."""
    from advisor.readfile import UnreadableFile, read_text

    try:
        text = read_text(path, MAX_YAML_BYTES, "YAML file")
    except UnreadableFile as exc:
        raise YamlFileError(1, exc.reason) from None
    return parse_yaml(text)
