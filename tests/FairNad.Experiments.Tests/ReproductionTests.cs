using System.Text.Json;

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

    [Fact]
    public async Task Reproduce_AlteredMetric_FailsNamingCandidateFieldAndSize()
    {
        var outcome = SearchFixture.Run(_fixture.Request()).Single();
        var journal = Path.Combine(outcome.RunDirectory, "journal.jsonl");
        var lines = File.ReadAllLines(journal);
        var entry = JsonSerializer.Deserialize<JournalEntry>(lines[6], RunJournal.Json)!;
        lines[6] = JsonSerializer.Serialize(entry with { Validation = entry.Validation + 1.5 }, RunJournal.Json);
        File.WriteAllText(journal, string.Join("\n", lines) + "\n");

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
