using FairNad.Architecture;
using FairNad.Evaluation.Training;

namespace FairNad.Experiments.Tests;

public sealed class DeterminismBenchmarkTests
{
    [Fact]
    public void Cases_DefaultBudgets_EveryOperatorEveryReferenceAndBothNb201CellsValid()
    {
        var cases = DeterminismBenchmark.Cases(DeterminismBenchmark.Input, [20_000, 100_000]);

        var operators = cases.Where(c => c.Name.StartsWith("op:", StringComparison.Ordinal)).SelectMany(c => c.Spec.Block.Nodes.Where(n => n.Id == "x").Select(n => n.Op)).ToHashSet(StringComparer.Ordinal);
        Assert.All(Operators.All, o => Assert.Contains(o.Name, operators));
        Assert.All(Operators.Activations, fn => Assert.Contains(cases, c => c.Name == $"op:act:{fn}"));
        Assert.All(ReferenceArchitectures.Names, r => Assert.Equal(2, cases.Count(c => c.Name.StartsWith(r + "@", StringComparison.Ordinal))));
        Assert.Equal(2, cases.Count(c => c.Name.StartsWith("nb201:", StringComparison.Ordinal)));
        Assert.All(cases, c => Assert.True(ArchitectureAnalyzer.Analyze(c.Spec).IsValid, c.Name));
        Assert.Equal(cases.Count, cases.Select(c => c.Spec.Id).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Replicas_Three_EachOrderAndHeapDiffers()
    {
        var replicas = DeterminismBenchmark.Replicas(3);

        Assert.Equal(["forward", "reversed", "shuffled:2"], replicas.Select(r => r.Order));
        Assert.Equal(3, replicas.Select(r => string.Join(",", r.Environment.Select(kv => kv.Key + "=" + kv.Value))).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Differences_OneReplicaWithOtherWeights_NamesTheCaseAndTheReplica()
    {
        var spec = DeterminismBenchmark.Cases(DeterminismBenchmark.Input, [20_000]).First(c => c.Name == "op:conv");
        DeterminismRecord Record(string weights, double loss) => new(spec.Name, spec.Spec.Id, 7522, "ok", null, [loss], [10], 11, weights, 0.1);
        var same = new Dictionary<string, DeterminismRecord> { [spec.Name] = Record("aaaaaaaaaaaaaaaa", 2.5) };
        var other = new Dictionary<string, DeterminismRecord> { [spec.Name] = Record("bbbbbbbbbbbbbbbb", 2.5) };
        var report = new DeterminismReport([spec], DeterminismBenchmark.Replicas(3), [same, same, other], [], 1);

        var difference = Assert.Single(report.Differences());

        Assert.Equal("op:conv", difference.Case);
        Assert.Contains("#0 vs #2: weights aaaaaaaaaaaa vs bbbbbbbbbbbb", difference.Difference, StringComparison.Ordinal);
        Assert.Contains("1 case(s) differ", DeterminismBenchmark.Table(report), StringComparison.Ordinal);
    }

    [Fact]
    public void Differences_LossDiffersInTheLastBit_Reported()
    {
        var spec = DeterminismBenchmark.Cases(DeterminismBenchmark.Input, [20_000]).First(c => c.Name == "op:conv");
        var loss = 2.5;
        DeterminismRecord Record(double l) => new(spec.Name, spec.Spec.Id, 7522, "ok", null, [l], [10], 11, "same", 0.1);
        var report = new DeterminismReport([spec], DeterminismBenchmark.Replicas(2),
            [new Dictionary<string, DeterminismRecord> { [spec.Name] = Record(loss) }, new Dictionary<string, DeterminismRecord> { [spec.Name] = Record(Math.BitIncrement(loss)) }], [], 1);

        Assert.Contains("train loss", Assert.Single(report.Differences()).Difference, StringComparison.Ordinal);
    }

    /// <summary>The benchmark for real, on a subset, with both cores kept busy by other threads: every replica bit-identical.</summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void Run_SubsetWhileTheCpuIsBusy_EveryCaseBitIdenticalAcrossProcesses()
    {
        var settings = new DeterminismSettings(3, 2, Environment.ProcessorCount, ["op:conv", "op:mhsa", "op:layer_norm", "resnet@20k", "vit@20k", "nb201"], [20_000], DeterminismSettings.DefaultConfig);

        var report = DeterminismBenchmark.Run(settings, WorkerCommand.ForAssembly(Path.Combine(AppContext.BaseDirectory, "fairnad.dll")), _ => { });

        Assert.Empty(report.ReplicaFailures);
        Assert.Equal(13, report.Cases.Count); // op:conv matches its four variants, resnet@20k also se_ and cbam_resnet, vit@20k also mobilevit
        Assert.True(report.Differences().Count == 0, DeterminismBenchmark.Table(report));
        Assert.All(report.Records.SelectMany(r => r.Values), r => Assert.Equal("ok", r.Status));
    }
}
