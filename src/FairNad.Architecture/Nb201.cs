namespace FairNad.Architecture;

/// <summary>
/// The NAS-Bench-201 space: cell strings such as <c>|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|</c>
/// (edge i -> j written as op~i in the group of node j), inside NB201's skeleton: 3x3 conv stem (16 channels, BN, no
/// activation), 3 stages of N = 5 cells at C = 16/32/64 with residual reduction blocks between them, BN-ReLU, global
/// pooling, linear classifier.
/// </summary>
public static class Nb201
{
    public static readonly IReadOnlyList<string> Operations = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"];

    /// <summary>Datasets of the benchmark with their input resolution and class count.</summary>
    public static InputSpec InputFor(string dataset) => dataset.ToLowerInvariant() switch
    {
        "cifar10" or "cifar10-valid" => new InputSpec(3, 32, 10),
        "cifar100" => new InputSpec(3, 32, 100),
        "imagenet16-120" => new InputSpec(3, 16, 120),
        _ => throw new ArgumentException($"unknown NAS-Bench-201 dataset '{dataset}'; known: cifar10-valid, cifar10, cifar100, ImageNet16-120"),
    };

    /// <summary>The six edge operations of a cell string, indexed (1,0), (2,0), (2,1), (3,0), (3,1), (3,2).</summary>
    public static string[] ParseEdges(string arch)
    {
        var groups = arch.Split('+');
        if (groups.Length != 3)
        {
            throw new FormatException($"'{arch}': a NAS-Bench-201 cell has 3 node groups separated by '+', found {groups.Length}");
        }

        var edges = new List<string>();
        for (var node = 1; node <= 3; node++)
        {
            var parts = groups[node - 1].Split('|', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != node)
            {
                throw new FormatException($"'{arch}': node {node} needs {node} incoming edge(s), found {parts.Length}");
            }

            for (var source = 0; source < node; source++)
            {
                var pieces = parts[source].Split('~');
                if (pieces.Length != 2 || pieces[1] != source.ToString(System.Globalization.CultureInfo.InvariantCulture))
                {
                    throw new FormatException($"'{arch}': edge '{parts[source]}' of node {node} must be written op~{source}");
                }

                if (!Operations.Contains(pieces[0]))
                {
                    throw new FormatException($"'{arch}': unknown operation '{pieces[0]}'; known: {string.Join(", ", Operations)}");
                }

                edges.Add(pieces[0]);
            }
        }

        return edges.ToArray();
    }

    /// <summary>Size of the space: five operations on each of six edges.</summary>
    public const int CellCount = 15625;

    /// <summary>Every cell string, in a fixed order (edge 0 varies fastest); the same set every NB201 table lists.</summary>
    public static IEnumerable<string> AllCells() => Enumerable.Range(0, CellCount).Select(CellAt);

    /// <summary>The cell with index <paramref name="code"/> in <see cref="AllCells"/> (its edges are the base-5 digits of the code).</summary>
    public static string CellAt(int code)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(code);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(code, CellCount);
        var edges = new string[6];
        for (var e = 0; e < 6; e++)
        {
            edges[e] = Operations[code % 5];
            code /= 5;
        }

        return FormatEdges(edges);
    }

    public static string FormatEdges(IReadOnlyList<string> edges) =>
        $"|{edges[0]}~0|+|{edges[1]}~0|{edges[2]}~1|+|{edges[3]}~0|{edges[4]}~1|{edges[5]}~2|";

    /// <summary>The spec of a cell string in NB201's skeleton (C = 16, N = 5) for <paramref name="input"/>.</summary>
    public static ArchitectureSpec ToSpec(string arch, InputSpec input, int channels = 16, int cellsPerStage = 5)
    {
        var edges = ParseEdges(arch);
        var nodes = new List<NodeSpec>();
        var index = 0;
        for (var target = 1; target <= 3; target++)
        {
            var incoming = new List<string>();
            for (var source = 0; source < target; source++)
            {
                var id = $"e{source}{target}";
                nodes.Add(EdgeNode(id, edges[index++], source == 0 ? BlockSpec.InputName : $"node{source}"));
                incoming.Add(id);
            }

            nodes.Add(incoming.Count == 1
                ? new NodeSpec($"node{target}", "identity", incoming[0])
                : new NodeSpec($"node{target}", "add", incoming.ToArray()));
        }

        return new ArchitectureSpec(
            arch,
            input,
            new StemSpec(StemKind.Conv, channels, 3, 1, "none"),
            [
                new StageSpec(cellsPerStage, channels, DownsampleKind.None),
                new StageSpec(cellsPerStage, channels * 2, DownsampleKind.ResidualReduction),
                new StageSpec(cellsPerStage, channels * 4, DownsampleKind.ResidualReduction),
            ],
            new BlockSpec(nodes, "node3"),
            new HeadSpec("relu", 0));
    }

    /// <summary>The cell string of a spec made by <see cref="ToSpec"/> (names or order of nodes may have changed).</summary>
    public static string FromSpec(ArchitectureSpec spec)
    {
        var byId = spec.Block.Nodes.ToDictionary(n => n.Id, StringComparer.Ordinal);

        // Node values: input is node 0; a cell node is an add (or identity) over edge nodes.
        string[] Edges(string nodeId) => byId[nodeId].Op == "add" ? [.. byId[nodeId].Inputs] : [byId[nodeId].Inputs[0]];
        var node3 = spec.Block.Output;
        var node3Edges = Edges(node3);
        var sources = node3Edges.Select(e => byId[e].Inputs[0]).ToList();
        var node2 = sources.Single(s => s != BlockSpec.InputName && Edges(s).Length == 2);
        var node1 = sources.Single(s => s != BlockSpec.InputName && s != node2);
        var level = new Dictionary<string, int>(StringComparer.Ordinal) { [BlockSpec.InputName] = 0, [node1] = 1, [node2] = 2, [node3] = 3 };
        var ops = new string[6];
        foreach (var (target, offset) in new[] { (node1, 0), (node2, 1), (node3, 3) })
        {
            foreach (var edge in Edges(target))
            {
                ops[offset + level[byId[edge].Inputs[0]]] = EdgeOperation(byId[edge]);
            }
        }

        return FormatEdges(ops);
    }

    /// <summary>
    /// A key shared by cells that compute the same function family: 'none' edges removed, edges from nodes that receive
    /// nothing removed, nodes that do not reach the output removed, skip connections folded into the sums they feed.
    /// </summary>
    public static string TopologyKey(string arch)
    {
        var edges = ParseEdges(arch);
        var op = new Dictionary<(int From, int To), string>();
        var index = 0;
        for (var target = 1; target <= 3; target++)
        {
            for (var source = 0; source < target; source++)
            {
                op[(source, target)] = edges[index++];
            }
        }

        var live = new bool[4];
        live[0] = true;
        for (var target = 1; target <= 3; target++)
        {
            live[target] = Enumerable.Range(0, target).Any(s => live[s] && op[(s, target)] != "none");
        }

        var useful = new bool[4];
        useful[3] = true;
        for (var source = 2; source >= 0; source--)
        {
            useful[source] = Enumerable.Range(source + 1, 3 - source).Any(t => useful[t] && live[source] && op[(source, t)] != "none");
        }

        // Each node's value as a sorted multiset of terms; a sum flattens the terms of the skip connections it receives.
        var terms = new List<string>[4];
        terms[0] = ["x"];
        for (var target = 1; target <= 3; target++)
        {
            terms[target] = [];
            for (var source = 0; source < target; source++)
            {
                if (!live[source] || !useful[source] || op[(source, target)] == "none")
                {
                    continue;
                }

                var value = Sum(terms[source]);
                if (op[(source, target)] == "skip_connect")
                {
                    terms[target].AddRange(terms[source]);
                }
                else
                {
                    terms[target].Add($"{op[(source, target)]}({value})");
                }
            }
        }

        return live[3] ? Sum(terms[3]) : "0";
    }

    /// <summary>
    /// NAS-Bench-201's own isomorphism key (its CellStructure.to_unique_str with consider_zero=True), reproduced so that
    /// its published count of 6,466 unique topologies can be checked: a none edge, or an edge from a node whose whole value
    /// is zero, becomes the term '#'; a skip connection passes its source's string through; other edges wrap it; a node is
    /// its sorted terms joined by '+'. Zero terms stay in the sum, so it distinguishes cells that <see cref="TopologyKey"/>
    /// (which drops every zero and dead branch) considers the same; that stricter key yields 4,930 classes.
    /// </summary>
    public static string UniqueString(string arch)
    {
        var edges = ParseEdges(arch);
        var nodes = new List<string> { "0" };
        var index = 0;
        for (var target = 1; target <= 3; target++)
        {
            var terms = new List<string>();
            for (var source = 0; source < target; source++)
            {
                var op = edges[index++];
                terms.Add(op == "none" || nodes[source] == "#" ? "#" : op == "skip_connect" ? nodes[source] : $"({nodes[source]})@{op}");
            }

            nodes.Add(string.Join("+", terms.Order(StringComparer.Ordinal)));
        }

        return nodes[3];
    }

    private static string Sum(List<string> terms) => terms.Count == 1 ? terms[0] : $"({string.Join("+", terms.Order(StringComparer.Ordinal))})";

    private static NodeSpec EdgeNode(string id, string operation, string source) => operation switch
    {
        "none" => new NodeSpec(id, "zero", source),
        "skip_connect" => new NodeSpec(id, "identity", source),
        "nor_conv_1x1" => new NodeSpec(id, "relu_conv_bn", source).With("kernel", 1),
        "nor_conv_3x3" => new NodeSpec(id, "relu_conv_bn", source).With("kernel", 3),
        "avg_pool_3x3" => new NodeSpec(id, "avg_pool", source).With("kernel", 3),
        _ => throw new FormatException($"unknown operation '{operation}'"),
    };

    private static string EdgeOperation(NodeSpec node) => node.Op switch
    {
        "zero" => "none",
        "identity" => "skip_connect",
        "relu_conv_bn" when node.Params.TryGetValue("kernel", out var k) && k.Number == 1 => "nor_conv_1x1",
        "relu_conv_bn" => "nor_conv_3x3",
        "avg_pool" => "avg_pool_3x3",
        _ => throw new FormatException($"node '{node.Id}' ({node.Op}) is not a NAS-Bench-201 edge operation"),
    };
}
