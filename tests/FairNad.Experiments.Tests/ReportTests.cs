using FairNad.Tests.Shared;
using FairNad.Reports;

namespace FairNad.Experiments.Tests;

public sealed class ReportTests : IDisposable
{
    private readonly SearchFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public void Write_TinyRecordedRun_TablesMatchSnapshots()
    {
        // Lineage layout 1: the tables carry commit ids, and layout 2's depend on the layer library and TorchSharp versions
        // its candidate projects copy, which are no part of what this snapshot pins (LineageStoreTests pins the layouts).
        // Lineage layout 1 and search rules 1: the commit ids and candidates the snapshots were made with.
        var outcome = SearchFixture.Run(_fixture.Request() with { LineageFormat = 1, SearchRules = 1 }).Single();

        var report = RunReporter.Write(outcome.RunDirectory);

        foreach (var name in new[] { "candidates.csv", "front.csv", "attributes.csv", "table.tex" })
        {
            Snapshot.Match($"report-{name}", File.ReadAllText(Path.Combine(report.Directory, name)));
        }

        Assert.Contains("## Pareto front", File.ReadAllText(Path.Combine(report.Directory, "report.md")), StringComparison.Ordinal);
    }

    [Fact]
    public void Write_TinyRecordedRun_FourPngPlotsThatRegenerateIdentically()
    {
        var outcome = SearchFixture.Run(_fixture.Request()).Single();

        var first = RunReporter.Write(outcome.RunDirectory, Path.Combine(_fixture.Root, "a"));
        var second = RunReporter.Write(outcome.RunDirectory, Path.Combine(_fixture.Root, "b"));

        var plots = first.Files.Where(f => f.EndsWith(".png", StringComparison.Ordinal)).ToList();
        Assert.Equal(["accuracy-vs-parameters.png", "best-so-far.png", "attributes.png", "lineage.png"], plots.Select(Path.GetFileName));
        foreach (var (a, b) in first.Files.Zip(second.Files))
        {
            var bytes = File.ReadAllBytes(a);
            Assert.True(bytes.Length > 100, $"{a} is {bytes.Length} bytes");
            Assert.Equal(bytes, File.ReadAllBytes(b));
        }

        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(plots[0]).Take(4));
    }

    [Fact]
    public void Aggregate_SeedsAndStrategies_MeanStdAndPairedTestsAgainstBaselines()
    {
        var directories = new List<string>();
        foreach (var strategy in new[] { "fairnad", "rea" })
        {
            foreach (var seed in Enumerable.Range(0, 6))
            {
                directories.Add(SearchFixture.Run(_fixture.Request(new ExperimentOverrides(Seed: seed, Strategy: strategy, Candidates: 8))).Single().RunDirectory);
            }
        }

        var aggregates = SeedAggregate.Aggregate(directories);

        Assert.Equal(["fairnad", "rea"], aggregates.Select(a => a.Strategy));
        var fairnad = aggregates[0];
        Assert.Equal([0, 1, 2, 3, 4, 5], fairnad.Runs.Select(r => r.Seed));
        Assert.Equal(fairnad.Runs.Average(r => r.TestOfBest!.Value), fairnad.MeanTest, 9);
        Assert.InRange(fairnad.VersusRea!.N, 0, 6);
        Assert.Null(aggregates[1].VersusRea);
        Assert.Null(fairnad.VersusRandom);
        var files = SeedAggregate.Write(directories, Path.Combine(_fixture.Root, "aggregate"));
        Assert.Contains("| fairnad | 0, 1, 2, 3, 4, 5 |", File.ReadAllText(files[0]), StringComparison.Ordinal);
    }

    [Fact]
    public void Write_NotARunFolder_ClearError()
    {
        var e = Assert.Throws<ExperimentException>(() => RunReporter.Write(_fixture.Root));

        Assert.Contains("is not a run folder", e.Message, StringComparison.Ordinal);
    }

}
