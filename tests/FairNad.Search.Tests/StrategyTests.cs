using FairNad.Architecture;

namespace FairNad.Search.Tests;

public sealed class StrategyTests
{
    /// <summary>A synthetic table over all 15,625 cells: accuracy grows with 3x3 convolutions, and 'none' on the output edge costs.</summary>
    private static Nb201TableEvaluator Synthetic()
    {
        var table = new Dictionary<string, (double, double)>(StringComparer.Ordinal);
        foreach (var cell in Nb201.AllCells())
        {
            var edges = Nb201.ParseEdges(cell);
            var score = 50 + (6 * edges.Count(e => e == "nor_conv_3x3")) + (2 * edges.Count(e => e == "skip_connect")) - (edges[5] == "none" ? 10 : 0);
            table[cell] = (score, score - 0.5);
        }

        return new Nb201TableEvaluator(table);
    }

    private static double BestTest(IReadOnlyList<Trial<string>> trials, Nb201TableEvaluator evaluator) =>
        evaluator.Test(trials.MaxBy(t => t.Validation ?? double.NegativeInfinity)!.Candidate);

    [Fact]
    public void Run_SameSeed_SameTrials()
    {
        var evaluator = Synthetic();
        Func<IAskTellStrategy<string>>[] strategies = [() => new RandomSearch<string>(new Nb201Space(), 7), () => new RegularizedEvolution<string>(new Nb201Space(), 7)];

        foreach (var strategy in strategies)
        {
            var a = StrategyDriver.Run(strategy(), evaluator, 60);
            var b = StrategyDriver.Run(strategy(), evaluator, 60);
            Assert.Equal(a.Select(t => t.Key), b.Select(t => t.Key));
            Assert.Equal(60, a.Count);
        }
    }

    [Fact]
    public void Rea_OverManySeeds_BeatsRandomOnAverage()
    {
        var evaluator = Synthetic();
        var seeds = Enumerable.Range(0, 30).ToList();

        var random = seeds.Average(s => BestTest(StrategyDriver.Run(new RandomSearch<string>(new Nb201Space(), s), evaluator, 100), evaluator));
        var rea = seeds.Average(s => BestTest(StrategyDriver.Run(new RegularizedEvolution<string>(new Nb201Space(), s), evaluator, 100), evaluator));

        Assert.True(rea > random, $"REA {rea:F2} vs random {random:F2}");
    }

    [Fact]
    public void Rea_AfterPopulation_ChildrenDifferFromParentsInOneEdge()
    {
        var trials = StrategyDriver.Run(new RegularizedEvolution<string>(new Nb201Space(), 3, population: 5), Synthetic(), 30);

        Assert.All(trials.Take(5), t => Assert.Null(t.ParentKey));
        Assert.All(trials.Skip(5), t =>
        {
            var changed = Nb201.ParseEdges(t.Key).Zip(Nb201.ParseEdges(t.ParentKey!)).Count(p => p.First != p.Second);
            Assert.Equal(1, changed);
        });
    }

    [Fact]
    public void Load_TableCsv_ReadsValidationAndTest()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nb201-{Environment.ProcessId}.csv");
        File.WriteAllText(path, "file id,arch str,cfg name,C,N,train accuracy,validation accuracy,test accuracy\n0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,infer.tiny,16,5,10.0,10.5,10.25\n");
        try
        {
            var evaluator = Nb201TableEvaluator.Load(path);

            Assert.Equal(10.5, evaluator.Evaluate("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|").Accuracy);
            Assert.Equal(10.25, evaluator.Test("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"));
            Assert.Equal("not-in-table", evaluator.Evaluate("|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|").Failure);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
