using FairNad.Reports;

namespace FairNad.Experiments.Tests;

/// <summary>The experiment's space section, and the strategy comparison over runs (on the table-like evaluator, fast).</summary>
public sealed class StrategyComparisonTests : IDisposable
{
    private readonly SearchFixture _fixture = new();

    private static string Shipped(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "experiments", $"{name}.json"));

    /// <summary>The tiny experiment with the comparison's space section: two budget shares, random samples of 1-4 edits, baselines from the seeds.</summary>
    public static Experiment Comparable => SearchFixture.Tiny with
    {
        Space = new SpaceOptions([0.5, 1.0], new EditRange(1, 4), BaselinesFromSeeds: true),
        References = ["resnet", "mlp_mixer"],
        Population = 4,
        Candidates = 9,
    };

    public void Dispose() => _fixture.Dispose();

    [Theory]
    [InlineData("quickstart")]
    [InlineData("fashion-mnist")]
    [InlineData("cifar10")]
    public void ToJson_ShippedExperimentWithoutSpace_NoSectionSoHashAndIdsStay(string name)
    {
        var experiment = ExperimentFile.Read(Shipped(name), name);

        Assert.Null(experiment.Space);
        Assert.DoesNotContain("\"space\"", experiment.ToJson(), StringComparison.Ordinal);
        Assert.Equal(
            FairNad.Search.ArchitectureSpace.ScaledReferences(experiment.References, experiment.Input, experiment.ParameterBudget).Select(s => s.Id),
            SearchSession.Seeds(experiment).Select(s => s.Id));
    }

    [Fact]
    public void Read_CompareExperiment_SpaceSectionReadAndRoundTrips()
    {
        var experiment = ExperimentFile.Read(Shipped("fashion-mnist-compare"), "compare");

        Assert.Equal([0.25, 0.5, 1.0], experiment.Space!.SeedBudgetFractions!);
        Assert.Equal(new EditRange(1, 8), experiment.Space.RandomEdits);
        Assert.True(experiment.Space.BaselinesFromSeeds);
        Assert.Equal(["expand", "kernel"], experiment.Space.SearchedParameters!.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([3.0, 5.0, 7.0], experiment.Space.SearchedParameters["kernel"]);
        Assert.Equal(1_000_000, experiment.ParameterBudget);
        Assert.Equal(experiment.ToJson(), ExperimentFile.Read(experiment.ToJson(), "round trip").ToJson());
        Assert.Equal(21, SearchSession.Seeds(experiment).Count);
        Assert.Equal(12, SearchSession.Seeds(ExperimentFile.Read(Shipped("fashion-mnist-compare"), "compare", "ci")).Count);
    }

    [Fact]
    public void Run_ShareTooSmallForAReference_ErrorNamesTheFieldAndNoFolderIsLeft()
    {
        _fixture.Write(Comparable with { Space = new SpaceOptions([0.25, 1.0]) });

        var e = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_fixture.Request()));

        Assert.Contains("space.seedBudgetFractions: mlp_mixer cannot be scaled to 0.25 of the budget (5,000 parameters)", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_fixture.Results, "tiny-fairnad-s0")));
    }

    [Theory]
    [InlineData("\"seedBudgetFractions\": [0.5, 1.5]", "space.seedBudgetFractions")]
    [InlineData("\"seedBudgetFractions\": [0.5, 0.5]", "listed twice")]
    [InlineData("\"randomEdits\": {\"min\": 3, \"max\": 2}", "space.randomEdits")]
    [InlineData("\"randomEdits\": {\"min\": 1}", "space.randomEdits.max: missing")]
    [InlineData("\"depth\": 3", "space.depth: unknown field")]
    public void Read_BadSpaceSection_ErrorNamesTheField(string section, string expected)
    {
        var json = Shipped("quickstart").Replace("\"population\":", $"\"space\": {{ {section} }},\n  \"population\":", StringComparison.Ordinal);

        var e = Assert.Throws<ExperimentException>(() => ExperimentFile.Read(json, "q.json"));

        Assert.Contains("q.json", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_ThreeStrategiesTwoSeeds_SameSeedsFirstAndAComparisonReport()
    {
        _fixture.Write(Comparable);
        var directories = new List<string>();
        foreach (var strategy in new[] { "fairnad", "rea", "random" })
        {
            foreach (var seed in new[] { 0, 1 })
            {
                directories.Add(SearchFixture.Run(_fixture.Request(new ExperimentOverrides(Seed: seed, Strategy: strategy))).Single().RunDirectory);
            }
        }

        var seeds = SearchSession.Seeds(Comparable).Select(s => s.Id).ToList();
        Assert.Equal(4, seeds.Count);
        foreach (var directory in directories)
        {
            var records = new RunArchive(directory).Records;
            Assert.Equal(9, records.Count);
            Assert.Equal(seeds, records.Take(4).Select(r => r.Candidate));
        }

        var comparison = StrategyComparison.Compare(directories);
        Assert.Equal(["fairnad", "random", "rea"], comparison.Strategies);
        Assert.All(comparison.Runs.Where(r => r.Strategy == "random"), r => Assert.All(r.Records.Skip(4),
            c => Assert.InRange(FairNad.Search.ArchitectureSpace.SampleDepth(c.Summary)!.Value, 1, 4)));
        foreach (var curve in comparison.Anytime.GroupBy(p => (p.Strategy, p.Seed)))
        {
            var points = curve.OrderBy(p => p.Candidates).ToList();
            Assert.Equal(9, points[^1].Candidates);
            Assert.True(points.Zip(points.Skip(1)).All(p => p.Second.BestValidation >= p.First.BestValidation), "best so far never falls");
        }

        Assert.Equal(3, comparison.Tests.Count);
        Assert.All(comparison.Tests, t => Assert.Equal(2, t.Pairs));
        Assert.All(comparison.Tests.Where(t => t.NonZero == 2), t => Assert.Equal(0.5, t.SmallestPossibleP));
        Assert.Contains(comparison.Depths, d => d.Strategy == "fairnad" && d.Depth >= 1);
        Assert.Contains(comparison.MutationTypes, m => m.Strategy == "rea" && m.MutationType == "mutation");

        var files = StrategyComparison.Write(directories, Path.Combine(_fixture.Root, "comparison"));
        Assert.Equal(
            ["comparison.md", "comparison.tex", "final.csv", "tests.csv", "anytime.csv", "anytime-bands.csv", "fronts.csv", "mutation-types.csv", "attributes.csv", "edit-depths.csv",
             "anytime-validation.png", "anytime-test.png", "fronts.png"],
            files.Select(Path.GetFileName));
        Assert.Contains("0.25 for 3 seeds", File.ReadAllText(files[0]), StringComparison.Ordinal);
        var again = StrategyComparison.Write(directories, Path.Combine(_fixture.Root, "again"));
        Assert.All(files.Zip(again), p => Assert.Equal(File.ReadAllBytes(p.First), File.ReadAllBytes(p.Second)));
    }

    [Fact]
    public void Compare_SameStrategyAndSeedTwice_ClearError()
    {
        _fixture.Write(Comparable);
        var first = SearchFixture.Run(_fixture.Request(new ExperimentOverrides(Seed: 0, Strategy: "rea", Candidates: 5))).Single().RunDirectory;
        var again = SearchFixture.Run(_fixture.Request(new ExperimentOverrides(Seed: 0, Strategy: "rea", Candidates: 5)) with { RunName = "other" }).Single().RunDirectory;

        var e = Assert.Throws<ExperimentException>(() => StrategyComparison.Compare([first, again]));

        Assert.Contains("seed 0 twice", e.Message, StringComparison.Ordinal);
    }
}

/// <summary>The comparison trained for real: three strategies, two seeds, a tiny fidelity on the embedded subset, then the report.</summary>
[Trait("Category", "Slow")]
public sealed class StrategyComparisonTrainingTests : IDisposable
{
    private readonly SearchFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public void Run_ThreeStrategiesTwoSeedsTrained_ComparisonReportOfRealAccuracies()
    {
        _fixture.Write(StrategyComparisonTests.Comparable with { Candidates = 6 });
        var directories = new List<string>();
        foreach (var strategy in new[] { "fairnad", "rea", "random" })
        {
            foreach (var seed in new[] { 0, 1 })
            {
                directories.Add(SearchFixture.Run(_fixture.Request(new ExperimentOverrides(Seed: seed, Strategy: strategy), train: true)).Single().RunDirectory);
            }
        }

        var files = StrategyComparison.Write(directories, Path.Combine(_fixture.Root, "comparison"));

        var comparison = StrategyComparison.Compare(directories);
        Assert.All(comparison.Final, f => Assert.InRange(f.TestOfBest!.Value, 0, 100));
        Assert.All(comparison.Final, f => Assert.True(f.TrainHours > 0));
        Assert.Equal(3, comparison.Tests.Count);
        Assert.All(files, f => Assert.True(new FileInfo(f).Length > 100, f));
        Assert.Contains("| random | rea |", File.ReadAllText(files[0]), StringComparison.Ordinal);
    }
}
