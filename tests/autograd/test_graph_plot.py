"""The day-20 graph drawing: layout runs from leaves to output, edges carry local derivatives."""

from arena_core.autograd import Value
from arena_core.autograd.graph_plot import local_derivatives, plot_value_graph, root_layout
from arena_core.utils.diagrams import canvas


def neuron():
    x1, w1, x2, w2, b = Value(2.0), Value(-3.0), Value(0.0), Value(1.0), Value(7.5)
    return (x1 * w1 + x2 * w2 + b).tanh(), (x1, w1, x2, w2, b)


def test_every_parent_sits_left_of_its_child_and_leaves_do_not_overlap():
    o, leaves = neuron()
    pos = root_layout(o)
    for node in pos:
        for parent, _ in local_derivatives(node):
            assert pos[parent][0] < pos[node][0]
    assert pos[o][0] == max(col for col, _ in pos.values())
    assert len({pos[leaf] for leaf in leaves}) == len(leaves)


def test_local_derivatives_are_what_backward_multiplies_by():
    x, w = Value(2.0), Value(-3.0)
    y = x * w
    assert local_derivatives(y) == [(x, -3.0), (w, 2.0)]
    assert local_derivatives(x) == []
    s = Value.sum([x, w])
    assert local_derivatives(s) == [(x, 1.0), (w, 1.0)]


def test_plot_draws_one_box_per_node_and_one_labelled_arrow_per_edge():
    o, _ = neuron()
    o.backward()
    fig, ax = canvas(20, 8)
    centres = plot_value_graph(o, ax, {o: "o"})
    n_edges = sum(len(local_derivatives(node)) for node in centres)
    assert len(centres) == 10 and n_edges == 9
    texts = [t.get_text() for t in ax.texts]
    assert sum(t.startswith("×") for t in texts) == n_edges
    assert "o\nvalue 0.9051\ngrad 1" in texts  # tanh(1.5) = 0.9051
