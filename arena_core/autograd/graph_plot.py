"""Draw a small `Value` computation graph as a mechanism diagram (day 20), matplotlib only.

The layout grows leftwards from the output: the output sits in the right-most column, every
parent one column to the left of the first child that reaches it, and leaves are stacked top to
bottom in the order a depth-first walk from the output meets them; an interior node sits at the
mean height of its parents. For a tree (one neuron) no edges cross.

Every node is a box with its name, its value (forward pass) and its gradient (backward pass);
every edge carries the local derivative d(child)/d(parent) that the child stored during the
forward pass, which is exactly what backward multiplies by.
"""

from matplotlib.axes import Axes

from arena_core.autograd.value import Value
from arena_core.utils.diagrams import arrow, box


def _num(x: float) -> str:
    """4 significant digits, with a real minus sign."""
    return f"{x:.4g}".replace("-", "\u2212")


def local_derivatives(node: Value) -> list[tuple[Value, float]]:
    """(parent, d node / d parent) for every edge into `node`, as the engine stored them."""
    if node._a is not None:
        edges = [(node._a, node._da)]
        if node._b is not None:
            edges.append((node._b, node._db))
        return edges
    if node._op:  # an n-ary node (sum, dot)
        return list(zip(node._parents_tuple, node._local_grads, strict=True))
    return []


def root_layout(root: Value) -> dict[Value, tuple[float, float]]:
    """(column, row) of every node: output on the right (largest column), leaves stacked."""
    depth: dict[Value, int] = {root: 0}
    walk: list[Value] = []  # depth-first, parents in the order the node lists them
    stack = [root]
    while stack:
        node = stack.pop()
        walk.append(node)
        parents = [p for p, _ in local_derivatives(node)]
        for parent in reversed(parents):
            if parent not in depth:
                depth[parent] = depth[node] + 1
                stack.append(parent)
    leaves = [n for n in walk if not local_derivatives(n)]
    row: dict[Value, float] = {leaf: float(-i) for i, leaf in enumerate(leaves)}
    for node in reversed(walk):  # parents before children
        if node not in row:
            rows = [row[p] for p, _ in local_derivatives(node) if p in row]
            row[node] = sum(rows) / len(rows)
    deepest = max(depth.values())
    return {n: (float(deepest - depth[n]), row[n]) for n in walk}


def plot_value_graph(
    root: Value,
    ax: Axes,
    labels: dict | None = None,
    column_gap: float = 4.4,
    row_gap: float = 1.75,
    box_size: tuple[float, float] = (2.9, 1.35),
    fontsize: float = 11,
) -> dict[Value, tuple[float, float]]:
    """Draw the graph of `root` on a `diagrams.canvas` axis; return each node's box centre.

    `labels` maps a Value to a name like "w1"; unnamed nodes show their operation.
    """
    labels = labels or {}
    width, height = box_size
    centres = {
        node: (col * column_gap, row * row_gap) for node, (col, row) in root_layout(root).items()
    }
    for node, (x, y) in centres.items():
        name = labels.get(node) or node._op
        role = "output" if node is root else ("input" if not node._op else "op")
        text = f"{name}\nvalue {_num(node.data)}\ngrad {_num(node.grad)}"
        box(ax, (x - width / 2, y - height / 2), text, width=width, height=height, role=role,
            fontsize=fontsize)  # fmt: skip
    for node, (x, y) in centres.items():
        for parent, local in local_derivatives(node):
            px, py = centres[parent]
            start, end = (px + width / 2, py), (x - width / 2, y)
            arrow(ax, start, end)
            # the label sits a little before the middle of the edge, away from where edges meet
            lx, ly = start[0] + 0.45 * (end[0] - start[0]), start[1] + 0.45 * (end[1] - start[1])
            ax.text(lx, ly, f"×{_num(local)}", ha="center", va="center", fontsize=fontsize - 0.5,
                    color="#b03a2e", bbox={"boxstyle": "round,pad=0.12", "fc": "white",
                                           "ec": "none"})  # fmt: skip
    return centres
