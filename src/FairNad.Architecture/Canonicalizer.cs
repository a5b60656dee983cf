using System.Security.Cryptography;
using System.Text;

namespace FairNad.Architecture;

/// <summary>
/// Puts a spec in canonical form: defaults filled in, block nodes renamed n0.. in an order that depends only on the graph.
/// Each node gets an upstream signature (operator, parameters and its inputs' signatures; sorted for commutative
/// operators) and a downstream signature (how its consumers use it); nodes are numbered by topological order, ties broken
/// by (upstream, downstream). Nodes equal in both are interchangeable in every block we build, so the result is unique in
/// practice; a residual tie falls back to declaration order.
/// Stage-wise specs: the canonical shared block is stage 0's block, and a stage has a block of its own only when its
/// block differs from that one (compared in canonical form), so every spec describing one network has one id; a spec
/// without stage blocks is unchanged by this rule and keeps its id.
/// </summary>
public static class Canonicalizer
{
    public static ArchitectureSpec Canonicalize(ArchitectureSpec spec)
    {
        if (!spec.HasStageBlocks)
        {
            return spec with { Name = string.Empty, Block = CanonicalizeBlock(spec.Block) };
        }

        var blocks = Enumerable.Range(0, spec.Stages.Count).Select(s => CanonicalizeBlock(spec.BlockOf(s))).ToList();
        CanonicalizeBlock(spec.Block); // the shared block must be valid even when every stage has its own
        var shared = SpecJson.BlockText(blocks[0]);
        var stages = spec.Stages.Select((stage, s) => stage with { Block = SpecJson.BlockText(blocks[s]) == shared ? null : blocks[s] }).ToList();
        return spec with { Name = string.Empty, Block = blocks[0], Stages = stages };
    }

    /// <summary>One block in canonical form: defaults filled in, nodes renamed n0.. in canonical order.</summary>
    public static BlockSpec CanonicalizeBlock(BlockSpec block)
    {
        var structural = ArchitectureAnalyzer.ValidateBlockStructure(block).Where(e => e.Rule != "dead-node" && e.Rule != "disconnected").ToList();
        if (structural.Count > 0)
        {
            throw new InvalidOperationException("cannot canonicalise an invalid block: " + string.Join("; ", structural));
        }

        var byId = block.Nodes.ToDictionary(n => n.Id, StringComparer.Ordinal);
        var order = ArchitectureAnalyzer.TopologicalOrder(block)!;
        var filled = block.Nodes.ToDictionary(n => n.Id, n => ArchitectureAnalyzer.WithDefaults(n, Operators.Get(n.Op)), StringComparer.Ordinal);

        var up = new Dictionary<string, string>(StringComparer.Ordinal) { [BlockSpec.InputName] = "input" };
        foreach (var id in order)
        {
            var node = byId[id];
            var inputs = node.Inputs.Select(i => up[i]);
            if (Operators.Get(node.Op).Commutative)
            {
                inputs = inputs.Order(StringComparer.Ordinal);
            }

            up[id] = Digest($"{node.Op}|{string.Join(",", filled[id].Select(p => $"{p.Key}={p.Value}"))}|{string.Join(",", inputs)}");
        }

        var uses = block.Nodes.SelectMany(n => n.Inputs.Select((input, position) => (input, consumer: n, position)))
            .ToLookup(x => x.input, StringComparer.Ordinal);
        var down = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var id in Enumerable.Reverse(order))
        {
            var usage = uses[id].Select(x => $"{up[x.consumer.Id]}@{(Operators.Get(x.consumer.Op).Commutative ? 0 : x.position)}:{down[x.consumer.Id]}")
                .Order(StringComparer.Ordinal);
            down[id] = Digest((id == block.Output ? "out;" : string.Empty) + string.Join(";", usage));
        }

        // Kahn's algorithm choosing the smallest (upstream, downstream) among ready nodes.
        var declared = block.Nodes.Select((n, i) => (n.Id, i)).ToDictionary(x => x.Id, x => x.i, StringComparer.Ordinal);
        var pending = block.Nodes.ToDictionary(n => n.Id, n => n.Inputs.Count(i => i != BlockSpec.InputName), StringComparer.Ordinal);
        var ready = new SortedSet<(string Up, string Down, int Declared, string Id)>(block.Nodes.Where(n => pending[n.Id] == 0)
            .Select(n => (up[n.Id], down[n.Id], declared[n.Id], n.Id)));
        var rename = new Dictionary<string, string>(StringComparer.Ordinal) { [BlockSpec.InputName] = BlockSpec.InputName };
        var renamedOrder = new List<string>();
        while (ready.Count > 0)
        {
            var next = ready.Min;
            ready.Remove(next);
            rename[next.Id] = $"n{renamedOrder.Count}";
            renamedOrder.Add(next.Id);
            foreach (var (_, consumer, _) in uses[next.Id])
            {
                if (--pending[consumer.Id] == 0)
                {
                    ready.Add((up[consumer.Id], down[consumer.Id], declared[consumer.Id], consumer.Id));
                }
            }
        }

        var nodes = renamedOrder.Select(id =>
        {
            var node = byId[id];
            var inputs = node.Inputs.Select(i => rename[i]);
            if (Operators.Get(node.Op).Commutative)
            {
                inputs = inputs.OrderBy(i => i == BlockSpec.InputName ? -1 : int.Parse(i.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture));
            }

            return new NodeSpec(rename[id], node.Op, inputs.ToList(), filled[id]);
        }).ToList();

        return new BlockSpec(nodes, rename[block.Output]);
    }

    private static string Digest(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
}
