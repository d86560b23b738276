"""The resource tree behind /proc/iomem (kernel/resource.c, include/linux/ioport.h).

Every claim on physical addresses is a ``struct resource`` in a tree: the firmware's map
at the top, drivers' claims nested inside what they claim from.  A request may nest
inside a resource that is not *busy* (a Soft Reserved range, a driver's own region) but
never inside or across a busy one: that is how hot-added "System RAM" ends up under
"Soft Reserved" > "dax0.0", and why a range cannot be added twice.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Resource", "IORESOURCE_MEM", "IORESOURCE_BUSY", "IORESOURCE_SYSTEM_RAM",
           "IORESOURCE_SYSRAM_DRIVER_MANAGED", "request_resource_conflict", "insert_resource",
           "request_region", "release_resource", "remove_resource", "walk", "render", "find"]

# include/linux/ioport.h
IORESOURCE_MEM = 0x00000200
IORESOURCE_SYSRAM = 0x01000000
IORESOURCE_SYSRAM_DRIVER_MANAGED = 0x02000000
IORESOURCE_BUSY = 0x80000000
IORESOURCE_SYSTEM_RAM = IORESOURCE_MEM | IORESOURCE_SYSRAM


@dataclass(eq=False)
class Resource:
    """struct resource: [start, end] (inclusive), a name, flags, and its children in address order."""

    start: int
    end: int
    name: str
    flags: int = IORESOURCE_MEM
    parent: "Resource | None" = None
    children: list["Resource"] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        """IORESOURCE_BUSY: nothing may nest inside or overlap it."""
        return bool(self.flags & IORESOURCE_BUSY)

    def size(self) -> int:
        """resource_size()."""
        return self.end - self.start + 1

    def __repr__(self) -> str:
        return f"<Resource {self.start:#x}-{self.end:#x} {self.name!r}{' busy' if self.busy else ''}>"


def _request(root: Resource, new: Resource) -> Resource | None:
    """__request_resource(): link ``new`` under ``root`` if it fits between the children; else the conflict."""
    if new.end < new.start or new.start < root.start or new.end > root.end:
        return root
    for i, tmp in enumerate(root.children):
        if tmp.start > new.end:
            root.children.insert(i, new)
            new.parent = root
            return None
        if tmp.end < new.start:
            continue
        return tmp
    root.children.append(new)
    new.parent = root
    return None


def request_resource_conflict(root: Resource, new: Resource) -> Resource | None:
    """request_resource_conflict(): None on success, else the resource in the way."""
    return _request(root, new)


def insert_resource(parent: Resource, new: Resource) -> Resource | None:
    """__insert_resource(): like a request, but ``new`` may also become the parent of what it covers."""
    while True:
        first = _request(parent, new)
        if first is None or first is parent:
            return first
        if first.start > new.start or first.end < new.end or (first.start == new.start and first.end == new.end):
            break
        parent = first
    covered = [c for c in parent.children if c.start <= new.end and c.end >= new.start]
    for c in covered:
        if c.start < new.start or c.end > new.end:
            return c                          # partial overlap: "bad, and unfixable"
    i = parent.children.index(covered[0])
    for c in covered:
        parent.children.remove(c)
        c.parent = new
    new.children = covered
    new.parent = parent
    parent.children.insert(i, new)
    return None


def request_region(root: Resource, start: int, size: int, name: str, flags: int = 0) -> Resource | None:
    """__request_region(): a busy resource, nested into whatever non-busy resource holds the range; None if busy."""
    res = Resource(start, start + size - 1, name, IORESOURCE_MEM | IORESOURCE_BUSY | flags)
    parent = root
    while True:
        conflict = _request(parent, res)
        if conflict is None:
            return res
        if conflict is not parent and not conflict.busy:
            parent = conflict
            continue
        return None


def release_resource(old: Resource) -> None:
    """release_resource(): unlink ``old`` with everything below it."""
    if old.parent is not None:
        old.parent.children.remove(old)
        old.parent = None


def remove_resource(old: Resource) -> None:
    """remove_resource(): unlink ``old``; its children move up to its parent."""
    parent = old.parent
    if parent is None:
        return
    i = parent.children.index(old)
    parent.children[i:i + 1] = old.children
    for c in old.children:
        c.parent = parent
    old.children, old.parent = [], None


def walk(root: Resource, depth: int = 0):
    """Every resource below ``root`` in /proc/iomem order, with its depth (0: top level)."""
    for c in root.children:
        yield c, depth
        yield from walk(c, depth + 1)


def find(root: Resource, start: int, end: int, name: str | None = None) -> Resource | None:
    """The resource spanning exactly [start, end] (and named ``name``), anywhere in the tree."""
    for r, _ in walk(root):
        if r.start == start and r.end == end and (name is None or r.name == name):
            return r
    return None


def render(root: Resource) -> str:
    """r_show(): one line per resource, two spaces of indent per level, addresses at least 8 hex digits."""
    width = 4 if root.end < 0x10000 else 8
    return "".join(f"{'  ' * d}{r.start:0{width}x}-{r.end:0{width}x} : {r.name}\n" for r, d in walk(root))
