using System.Text.Json;

namespace FairNad.Lineage.Tests;

public sealed class LineageAuditTests : IDisposable
{
    private readonly TempRepositories _repos = new();

    public void Dispose() => _repos.Dispose();

    [Fact]
    public void Chain_Grandchild_FromSeedWithDeltasAndDiff()
    {
        using var store = LineageStore.Open(_repos.PathFor("a"), create: true);
        var family = TempRepositories.RecordFamily(store);

        var steps = LineageAudit.Chain(store, family[3], withDiff: true);

        Assert.Equal([family[0].CandidateId, family[2].CandidateId, family[3].CandidateId], steps.Select(s => s.Candidate.CandidateId));
        Assert.Null(steps[0].AccuracyDelta);
        Assert.Equal(0.75, steps[1].AccuracyDelta!.Value, 10);
        Assert.Equal(-0.25, steps[2].AccuracyDelta!.Value, 10);
        Assert.Equal(10_000, steps[2].ParameterDelta);
        Assert.Contains("-          \"fn\": \"relu\"", steps[1].Diff);
        Assert.Contains("+          \"fn\": \"hardswish\"", steps[1].Diff);
        Assert.Contains(steps[2].Diff, l => l.StartsWith("+", StringComparison.Ordinal) && l.Contains("\"se\"", StringComparison.Ordinal));
    }

    [Fact]
    public void Markdown_Chain_OneRowPerStepWithTranscript()
    {
        using var store = LineageStore.Open(_repos.PathFor("a"), create: true);
        var family = TempRepositories.RecordFamily(store);

        var text = LineageAudit.Markdown(LineageAudit.Chain(store, family[3], withDiff: false));

        var rows = text.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal)).ToList();
        Assert.Equal(4, rows.Count);
        Assert.Contains("| llm | block.recalibration.squeeze-excitation | 91.00 | -0.25 | 510,000 | +10,000 | `sha256:aaaaaaaaaaaa` |", rows[3]);
    }

    [Fact]
    public void Json_Crossover_ListsBothParentsAndFailure()
    {
        using var store = LineageStore.Open(_repos.PathFor("a"), create: true);
        var family = TempRepositories.RecordFamily(store);

        using var json = JsonDocument.Parse(LineageAudit.Json(LineageAudit.Chain(store, family[4], withDiff: false)));

        var last = json.RootElement[json.RootElement.GetArrayLength() - 1];
        Assert.Equal(2, last.GetProperty("parents").GetArrayLength());
        Assert.Equal("failed", last.GetProperty("metrics").GetProperty("status").GetString());
        Assert.Equal(family[1].CandidateId, json.RootElement[0].GetProperty("candidate").GetString());
    }

    [Fact]
    public void Unified_OneLineChanged_ContextAroundIt()
    {
        var diff = SpecDiff.Unified("a\nb\nc\nd\ne\nf\ng\n", "a\nb\nc\nX\ne\nf\ng\n", context: 1);

        Assert.Equal([" c", "-d", "+X", " e"], diff);
    }
}

public sealed class LineageRecordTests
{
    [Fact]
    public void Metrics_RoundTrip_SortedKeysAndSameValues()
    {
        var metrics = new CandidateMetrics("ok", 91.5, 90.25, 1_500_000, 200_000_000, 4.5, null, "10 epochs", "host", new Dictionary<string, double> { ["z"] = 1, ["a"] = 2 });

        var json = metrics.ToJson();
        var back = CandidateMetrics.Parse(json, "note");

        Assert.Equal(json, back.ToJson());
        Assert.True(json.IndexOf("\"a\"", StringComparison.Ordinal) < json.IndexOf("\"z\"", StringComparison.Ordinal));
        Assert.True(json.IndexOf("\"extra\"", StringComparison.Ordinal) < json.IndexOf("\"status\"", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("{\"status\": \"ok\", \"accuracy\": 1}", "unknown field 'accuracy'")]
    [InlineData("{\"validationAccuracy\": 1}", "field 'status' is missing")]
    [InlineData("{\"status\": \"ok\", \"parameters\": \"many\"}", "field 'parameters' must be a number")]
    [InlineData("not json", "not valid JSON")]
    public void Metrics_Malformed_ErrorNamesTheField(string json, string expected)
    {
        var error = Assert.Throws<LineageException>(() => CandidateMetrics.Parse(json, "note of x"));

        Assert.Contains(expected, error.Message);
        Assert.StartsWith("note of x: ", error.Message);
    }

    [Fact]
    public void Trailers_MessageWithoutTrailerParagraph_Empty()
    {
        Assert.Empty(Trailers.Parse("subject only\n"));
        Assert.Empty(Trailers.Parse("subject\n\nbody text that is not a trailer\n"));
        Assert.Equal([("A-B", "c d"), ("E", "f")], Trailers.Parse("s\n\nbody\n\nA-B: c d\nE: f\n"));
    }

    [Fact]
    public void CommitTime_SeedAndIndex_DeterministicAndOrdered()
    {
        Assert.Equal(LineageLayout.CommitTime(7, 3), LineageLayout.CommitTime(7, 3));
        Assert.True(LineageLayout.CommitTime(7, 4) > LineageLayout.CommitTime(7, 3));
        Assert.NotEqual(LineageLayout.CommitTime(8, 3), LineageLayout.CommitTime(7, 3));
        Assert.Equal(TimeSpan.Zero, LineageLayout.CommitTime(7, 3).Offset);
    }
}
