using System.Text.Json.Nodes;
using FairNad.Architecture;
using FairNad.Knowledge;
using FairNad.Reports;
using FairNad.Tests.Shared;

namespace FairNad.Experiments.Tests;

/// <summary>The "Written operators" section of a run's report and summary: the operators recorded candidates introduced, and the realised share before and after.</summary>
public sealed class OperatorArchiveReportTests : IDisposable
{
    private static readonly string Ghost = OperatorSources.Hash(WrittenOperators.Ghost);
    private readonly SearchFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    private static CandidateRecord Record(int index) =>
        new(index, new string('a', 64), "llm", "a.x", "a", [], null, "wrote an operator", "ok", 80, 79, 1000, 2000, null, null, null, new string('d', 40), 1, 1);

    private static OperatorEntry Entry(string reference, string attribute, string candidate) =>
        new(reference, "GhostModule", "contract", attribute, "run", candidate, OperatorEntry.GeneratedLicence, []);

    [Fact]
    public void Shares_FromTheManifest_FirstRealisationsCountOncePerAttribute()
    {
        var manifest = JsonNode.Parse("""{"knowledge":{"attributes":10,"realised":6,"unrealised":["a.x","a.y","a.z","a.w"]}}""");
        var record = Record(1);
        IReadOnlyList<IntroducedOperator> introduced =
        [
            new(Entry(Ghost, "a.x", record.Candidate), record, []),
            new(Entry(OperatorSources.Hash(WrittenOperators.GatedMlp), "a.x", record.Candidate), record, []),
            new(Entry("sha256:" + new string('1', 64), "b.realised", record.Candidate), record, []),
            new(Entry("sha256:" + new string('2', 64), "a.z", record.Candidate), record, []),
        ];

        var (before, after) = OperatorArchiveSummary.Shares(manifest, introduced)!.Value;

        Assert.Equal(new RealisedShare(6, 10), before);
        Assert.Equal(new RealisedShare(8, 10), after);
        Assert.Null(OperatorArchiveSummary.Shares(JsonNode.Parse("""{"knowledge":{"attributes":10,"realised":6}}"""), introduced));
    }

    [Fact]
    public void Shares_FromTheTree_SameAsFromTheManifest()
    {
        var tree = AttributeTree.Default();
        var open = tree.Attributes.Select(x => x.Attribute).First(a => a.Realisations.Count == 0);
        var record = Record(1);
        IReadOnlyList<IntroducedOperator> introduced = [new(Entry(Ghost, open.Id, record.Candidate), record, [])];
        var manifest = new JsonObject
        {
            ["knowledge"] = new JsonObject
            {
                ["attributes"] = RealisedShare.Of(tree).Attributes,
                ["realised"] = RealisedShare.Of(tree).Realised,
                [OperatorArchiveSummary.UnrealisedField] = OperatorArchiveSummary.Unrealised(tree),
            },
        };

        Assert.Equal(OperatorArchiveSummary.Shares(tree, introduced), OperatorArchiveSummary.Shares(manifest, introduced)!.Value);
        Assert.Equal(RealisedShare.Of(tree).Realised + 1, OperatorArchiveSummary.Shares(tree, introduced).After.Realised);
    }

    [Fact]
    public void Write_RunWithAnArchive_ReportListsTheOperatorsRecordedCandidatesIntroduced()
    {
        var outcome = SearchFixture.Run(_fixture.Request()).Single();
        var introducer = outcome.Candidates[2];
        var tree = AttributeTree.Default();
        var open = tree.Attributes.Select(x => x.Attribute).First(a => a.Realisations.Count == 0);
        var archive = OperatorArchive.OfRun(outcome.RunDirectory);
        archive.Store.Put(WrittenOperators.Ghost);
        archive.Add(Entry(Ghost, open.Id, introducer.Candidate));
        var unrecorded = archive.Store.Put(WrittenOperators.GatedMlp);
        archive.Add(Entry(unrecorded, open.Id, new string('f', 64)) with { ClassName = "GatedChannelMlp" });
        var manifestPath = Path.Combine(outcome.RunDirectory, RunArchive.ManifestFile);
        var manifest = JsonNode.Parse(File.ReadAllText(manifestPath))!;
        manifest["knowledge"]![OperatorArchiveSummary.UnrealisedField] = OperatorArchiveSummary.Unrealised(tree);
        File.WriteAllText(manifestPath, manifest.ToJsonString());

        var report = File.ReadAllText(Path.Combine(RunReporter.Write(outcome.RunDirectory).Directory, "report.md"));

        var section = report[report.IndexOf("## Written operators", StringComparison.Ordinal)..report.IndexOf("## Figures", StringComparison.Ordinal)];
        var (before, after) = OperatorArchiveSummary.Shares(tree, [new IntroducedOperator(Entry(Ghost, open.Id, introducer.Candidate), introducer, [])]);
        Assert.Contains($"{before} before the run, {after} after it", section, StringComparison.Ordinal);
        Assert.Contains($"| `{Ghost[..19]}` | GhostModule | {open.Id} | #{introducer.Index} `{introducer.Candidate[..12]}` | `{introducer.Commit[..10]}` | not measured |", section, StringComparison.Ordinal);
        Assert.DoesNotContain("GatedChannelMlp", section, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_RunWithoutAnArchive_NoSection()
    {
        var outcome = SearchFixture.Run(_fixture.Request()).Single();

        var report = File.ReadAllText(Path.Combine(RunReporter.Write(outcome.RunDirectory).Directory, "report.md"));

        Assert.DoesNotContain("## Written operators", report, StringComparison.Ordinal);
    }
}
