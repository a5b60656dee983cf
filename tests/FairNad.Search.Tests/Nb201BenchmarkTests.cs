using FairNad.Tests.Shared;
using FairNad.Architecture;

namespace FairNad.Search.Tests;

public sealed class Nb201BenchmarkTests
{
    [Theory]
    [InlineData("cifar10-valid", "c82e70b5ffb0dba0f09d88ecc8df5a6d3ce8da8a99ad223285104f4537314033", 91.52)]
    [InlineData("cifar100", "87a42005d7005fdb5e4a938ed83dd306d907523f23e70af907dfd276dd5fe35d", 73.51)]
    [InlineData("ImageNet16-120", "f5225573584977b283f473b0ded7fe51ae599a67063b3bd02b18de36b29fcd6b", 47.31)]
    public void Load_ShippedTable_MatchesProvenanceAndOptimum(string dataset, string sha256, double optimum)
    {
        var table = Nb201Tables.Load(dataset);

        Assert.Equal(sha256, Nb201Tables.Sha256(dataset));
        Assert.Equal(Nb201.CellCount, table.Rows.Count);
        Assert.Equal(optimum, Math.Round(table.BestTest, 2));
    }

    [Fact]
    public void Evaluate_TableWithCost_CostIsTheCellsParameterCount()
    {
        const string allConv = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|";

        var outcome = Nb201Tables.Load("cifar10-valid").Evaluate(allConv);

        Assert.Equal(1_531_546, outcome.Cost);
    }

    [Fact]
    public void Wilcoxon_TextbookPairs_MatchesNormalApproximation()
    {
        // R: wilcox.test(x, y, paired = TRUE, exact = FALSE) gives V = 40, p-value = 0.04401.
        double[] x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30];
        double[] y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];

        var result = Statistics.Wilcoxon(x, y);

        Assert.Equal((9, 40.0), (result.N, result.WPlus));
        Assert.Equal(0.04401, result.P, 4);
        Assert.True(result.Z > 0);
        Assert.Equal(1, Statistics.Wilcoxon(x, x).P);
    }

    [Fact]
    public void NormalUpperTail_KnownQuantiles_WithinAccuracy()
    {
        Assert.Equal(0.025, Statistics.NormalUpperTail(1.959964), 6);
        Assert.Equal(0.5, Statistics.NormalUpperTail(0), 6);
        Assert.Equal(0.841345, Statistics.NormalUpperTail(-1), 5);
    }

    [Fact]
    public void Neighbours_AnyCell_TwentyFourCellsOneEdgeAway()
    {
        var cell = Nb201.CellAt(1234);

        var neighbours = new Nb201Space().Neighbours(cell).ToList();

        Assert.Equal(24, neighbours.Distinct().Count());
        Assert.All(neighbours, n => Assert.Equal(1, Nb201.ParseEdges(n).Zip(Nb201.ParseEdges(cell)).Count(p => p.First != p.Second)));
    }

    [Fact]
    public void Apply_IdeaOnCell_SetsOneEdgeToThatOperation()
    {
        var space = new Nb201IdeaSpace(10);
        var conv = Nb201IdeaSpace.IdeaTree.Find("operator.feature-extraction.conv-3x3")!;
        const string none = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|";

        var child = space.Apply(none, conv, new Random(1))!;

        Assert.Equal(1, Nb201.ParseEdges(child.Candidate).Count(e => e == "nor_conv_3x3"));
        Assert.Null(space.Apply(Nb201.FormatEdges(Enumerable.Repeat("nor_conv_3x3", 6).ToArray()), conv, new Random(1)));
    }

    [Theory]
    [InlineData("random")]
    [InlineData("rea")]
    [InlineData("local")]
    [InlineData("fairnad")]
    public void Trajectory_AnyStrategy_BestSoFarNeverDropsAndStaysUnique(string strategy)
    {
        var table = Nb201Tables.Load("cifar100");

        var (test, validation) = Nb201Benchmark.Trajectory(strategy, 5, table, 150);

        Assert.All(validation.Zip(validation.Skip(1)), p => Assert.True(p.Second >= p.First));
        Assert.All(test, t => Assert.InRange(t, 0, table.BestTest));
    }

    /// <summary>Search rules 1 give the numbers they gave before rules were versioned (the snapshot is unchanged since).</summary>
    [Fact]
    public void Run_SmallConfigurationRules1_MatchesSnapshot()
    {
        var settings = new Nb201BenchmarkSettings(["cifar100", "ImageNet16-120"], Nb201Benchmark.AllStrategies, [10, 30], 4, Rules: 1);

        var markdown = Nb201Benchmark.Markdown(Nb201Benchmark.Run(settings));

        Snapshot.Match("nb201-small.md", markdown);
    }

    [Fact]
    public void Run_SmallConfigurationCurrentRules_MatchesSnapshot()
    {
        var settings = new Nb201BenchmarkSettings(["cifar100", "ImageNet16-120"], Nb201Benchmark.AllStrategies, [10, 30], 4);

        var markdown = Nb201Benchmark.Markdown(Nb201Benchmark.Run(settings));

        Snapshot.Match("nb201-small-rules2.md", markdown);
    }

    /// <summary>Search rules 3 (adaptive mutation-type selection) pinned on the small configuration, as rules 1 and 2 are.</summary>
    [Fact]
    public void Run_SmallConfigurationRules3_MatchesSnapshot()
    {
        var settings = new Nb201BenchmarkSettings(["cifar100", "ImageNet16-120"], Nb201Benchmark.AllStrategies, [10, 30], 4, Rules: 3);

        var markdown = Nb201Benchmark.Markdown(Nb201Benchmark.Run(settings));

        Snapshot.Match("nb201-small-rules3.md", markdown);
    }

    /// <summary>Search rules 4 (a tournament pool apart from Pareto-aware children) pinned on the small configuration.</summary>
    [Fact]
    public void Run_SmallConfigurationRules4_MatchesSnapshot()
    {
        var settings = new Nb201BenchmarkSettings(["cifar100", "ImageNet16-120"], Nb201Benchmark.AllStrategies, [10, 30], 4, Rules: 4);

        var markdown = Nb201Benchmark.Markdown(Nb201Benchmark.Run(settings));

        Snapshot.Match("nb201-small-rules4.md", markdown);
    }

    [Fact]
    public void Run_Rules1AndRules2_FairNadDiffersBaselinesDoNot()
    {
        string Curves(string strategy, int rules) => Nb201Benchmark.AnytimeCsv(Nb201Benchmark.Run(new Nb201BenchmarkSettings(["cifar100"], [strategy], [60], 4, Rules: rules)));

        Assert.NotEqual(Curves("fairnad", 1), Curves("fairnad", 2));
        Assert.NotEqual(Curves("fairnad-no-fair-idea", 1), Curves("fairnad-no-fair-idea", 2));
        Assert.Equal(Curves("rea", 1), Curves("rea", 2));
    }

    [Fact]
    public void Create_UnknownRules_ClearError()
    {
        var error = Assert.Throws<ArgumentException>(() => Nb201Benchmark.Create("fairnad", 0, rules: 9));

        Assert.Contains("search rules 9", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_SameSettingsTwice_SameNumbers()
    {
        var settings = new Nb201BenchmarkSettings(["cifar10-valid"], ["rea", "fairnad"], [20], 3);

        Assert.Equal(Nb201Benchmark.AnytimeCsv(Nb201Benchmark.Run(settings)), Nb201Benchmark.AnytimeCsv(Nb201Benchmark.Run(settings)));
    }

    [Fact]
    public void BestByValidation_TiedValidation_HigherTestThenCellOrder()
    {
        var table = new Nb201TableEvaluator(new Dictionary<string, (double Validation, double Test)>
        {
            [Nb201.CellAt(5)] = (80, 70),
            [Nb201.CellAt(3)] = (90, 60),
            [Nb201.CellAt(2)] = (90, 65),
            [Nb201.CellAt(1)] = (90, 65),
        });

        var best = table.BestByValidation;

        var expected = string.CompareOrdinal(Nb201.CellAt(1), Nb201.CellAt(2)) < 0 ? Nb201.CellAt(1) : Nb201.CellAt(2);
        Assert.Equal((expected, 90.0, 65.0), best);
        Assert.Equal(70, table.BestTest);
    }

    /// <summary>cifar10-valid's best cell by validation tests 0.43 below the table's best test accuracy (the ceiling the report states).</summary>
    [Fact]
    public void BestByValidation_ShippedCifar10Valid_TestsBelowTheOptimum()
    {
        var table = Nb201Tables.Load("cifar10-valid");

        var (_, validation, test) = table.BestByValidation;

        Assert.Equal((91.61, 91.09), (Math.Round(validation, 2), Math.Round(test, 2)));
        Assert.True(table.Rows.Values.All(r => r.Validation <= validation));
    }

    [Fact]
    public void Markdown_StrategyAboveCeiling_NamesItAndNotTheOthers()
    {
        var settings = new Nb201BenchmarkSettings(["cifar10-valid"], ["rea", "fairnad"], [400], 2);
        Nb201Row Row(string strategy, double test, double found) => new("cifar10-valid", strategy, 400, [test, test], [91.6, found], 91.52, null, null);
        var result = new Nb201BenchmarkResult(settings, [Row("rea", 91.12, 91.6), Row("fairnad", 91.05, 91.61)],
            new Dictionary<(string Dataset, string Strategy), IReadOnlyList<double>>(), [],
            new Dictionary<string, (string Cell, double Validation, double Test)> { ["cifar10-valid"] = ("c", 91.61, 91.09) }, []);

        var markdown = Nb201Benchmark.Markdown(result);

        Assert.Contains("has test accuracy 91.09, 0.43 below the optimum; a strategy that finds it on every seed reports 91.09.", markdown, StringComparison.Ordinal);
        Assert.Contains("At 400 queries rea is above it on the mean", markdown, StringComparison.Ordinal);
        Assert.Contains("Seeds on which it was found by 400 queries: rea 0/2, fairnad 1/2.", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_FairNadAndRea_ComparedOnValidationAtEveryBudget()
    {
        var settings = new Nb201BenchmarkSettings(["cifar100"], ["rea", "fairnad"], [10, 30], 6);

        var result = Nb201Benchmark.Run(settings);

        Assert.Equal([10, 30], result.QueryComparisons.Select(x => x.Budget));
        foreach (var x in result.QueryComparisons)
        {
            var fairnad = result.Rows.Single(r => r.Strategy == "fairnad" && r.Budget == x.Budget).Validation;
            var rea = result.Rows.Single(r => r.Strategy == "rea" && r.Budget == x.Budget).Validation;
            Assert.Equal(fairnad.Zip(rea, (a, b) => a - b).Average(), x.MeanDifference, 9);
            Assert.Equal(("fairnad", "rea"), (x.Strategy, x.Other));
        }
    }
}
