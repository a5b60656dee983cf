using System.Runtime.CompilerServices;
using FairNad.Reports;

namespace FairNad.Experiments.Tests;

public sealed class ReportTests : IDisposable
{
    private readonly SearchFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public void Write_TinyRecordedRun_TablesMatchSnapshots()
    {
        var outcome = SearchFixture.Run(_fixture.Request()).Single();

        var report = RunReporter.Write(outcome.RunDirectory);

        foreach (var name in new[] { "candidates.csv", "front.csv", "attributes.csv", "table.tex" })
        {
            MatchSnapshot($"report-{name}", File.ReadAllText(Path.Combine(report.Directory, name)));
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
    public void Write_NotARunFolder_ClearError()
    {
        var e = Assert.Throws<ExperimentException>(() => RunReporter.Write(_fixture.Root));

        Assert.Contains("is not a run folder", e.Message, StringComparison.Ordinal);
    }

    private static string Source([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;

    private static void MatchSnapshot(string name, string actual)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Snapshots", name + ".snap");
        if (Environment.GetEnvironmentVariable("FAIRNAD_UPDATE_SNAPSHOTS") == "1")
        {
            File.WriteAllText(Path.Combine(Source(), "Snapshots", name + ".snap"), actual);
            return;
        }

        Assert.True(File.Exists(path), $"snapshot {path} is missing; run the tests once with FAIRNAD_UPDATE_SNAPSHOTS=1 and review the diff");
        Assert.Equal(File.ReadAllText(path), actual);
    }
}
