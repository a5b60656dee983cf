namespace FairNad.Experiments.Tests;

public sealed class ReproductionTests : IDisposable
{
    private readonly SearchFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    private static Task<ReproductionReport> Reproduce(SearchFixture fixture, string run) =>
        Reproduction.RunAsync(fixture.Results, run, WorkerCommand.ForAssembly("fairnad.dll"), null, evaluator: _ => new SyntheticEvaluator());

    [Fact]
    public async Task Reproduce_UnchangedRun_SameCandidatesCommitsAndMetrics()
    {
        var outcome = SearchFixture.Run(_fixture.Request()).Single();

        var report = await Reproduce(_fixture, outcome.Run);

        Assert.True(report.Passed, string.Join("\n", report.Differences));
        Assert.Equal((10, 0.0), (report.Compared, report.Tolerance));
    }

    /// <summary>A run recorded before lineage layout 2 (its manifest names no layout) reproduces its layout-1 commit ids.</summary>
    [Fact]
    public async Task Reproduce_RunRecordedInLayout1_SameCommits()
    {
        var outcome = SearchFixture.Run(_fixture.Request() with { LineageFormat = 1 }).Single();
        var path = Path.Combine(outcome.RunDirectory, "manifest.json");
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        manifest.Remove("lineage");
        File.WriteAllText(path, manifest.ToJsonString());

        var report = await Reproduce(_fixture, outcome.Run);

        Assert.True(report.Passed, string.Join("\n", report.Differences));
        Assert.Equal(10, report.Compared);
    }

    /// <summary>A run recorded before search rules were versioned (its manifest names none) reproduces under rules 1.</summary>
    [Fact]
    public async Task Reproduce_RunRecordedBeforeSearchRules_SameCandidates()
    {
        var outcome = SearchFixture.Run(_fixture.Request() with { SearchRules = 1 }).Single();
        var path = Path.Combine(outcome.RunDirectory, "manifest.json");
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        manifest.Remove("search");
        File.WriteAllText(path, manifest.ToJsonString());

        var report = await Reproduce(_fixture, outcome.Run);

        Assert.True(report.Passed, string.Join("\n", report.Differences));
        Assert.Equal(10, report.Compared);
    }

    [Fact]
    public async Task Reproduce_AlteredMetric_FailsNamingCandidateFieldAndSize()
    {
        var outcome = SearchFixture.Run(_fixture.Request()).Single();
        var journal = Path.Combine(outcome.RunDirectory, RunJournal.FileName);
        var entries = RunJournal.Read(journal, outcome.Run).ToList();
        var entry = entries[6];
        entries[6] = entry with { Validation = entry.Validation + 1.5 };
        // A run recorded with another metric, journal intact: rewrite it through the journal so the hash chain holds.
        File.Delete(journal);
        using (var rewritten = RunJournal.Open(journal, outcome.Run))
        {
            entries.ForEach(e => rewritten.Append(e));
        }

        var report = await Reproduce(_fixture, outcome.Run);

        var difference = Assert.Single(report.Differences);
        Assert.Equal((entry.Index, entry.Candidate, "validation"), (difference.Index, difference.Candidate, difference.Field));
        Assert.Equal(1.5, difference.Size!.Value, 9);
        Assert.Contains("validation: recorded", difference.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reproduce_MissingRun_ClearError()
    {
        var e = await Assert.ThrowsAsync<ExperimentException>(() => Reproduce(_fixture, "nope"));

        Assert.Contains("no recorded run 'nope'", e.Message, StringComparison.Ordinal);
    }
}
