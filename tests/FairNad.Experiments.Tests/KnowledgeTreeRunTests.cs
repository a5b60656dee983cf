using System.Security.Cryptography;
using System.Text.Json.Nodes;
using FairNad.Knowledge;

namespace FairNad.Experiments.Tests;

/// <summary>The Extract -> Search chain: a search on a given tree file, its path and hash in the manifest, and the recorded tree kept on resume and reproduction.</summary>
public sealed class KnowledgeTreeRunTests : IDisposable
{
    private readonly SearchFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    /// <summary>
    /// The curated tree with the realisations of every attribute outside <paramref name="category"/> removed: the rule-based
    /// mutations can then only draw that category's attributes, so the run's attributes show which tree it searched.
    /// </summary>
    private string WriteTree(string name, string category)
    {
        var curated = AttributeTree.Default();
        var tree = curated with
        {
            Provenance = curated.Provenance with { Description = $"test tree: only {category} realised" },
            Granularities = curated.Granularities.Select(g => g with
            {
                Categories = g.Categories.Select(c => c.Id == category ? c : c with { Attributes = c.Attributes.Select(a => a with { Realisations = [] }).ToList() }).ToList(),
            }).ToList(),
        };
        var path = Path.Combine(_fixture.Root, name);
        File.WriteAllText(path, tree.Write());
        return path;
    }

    private static string Sha256(string path) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    private static JsonNode Knowledge(SearchOutcome outcome) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(outcome.RunDirectory, RunArchive.ManifestFile)))!["knowledge"]!;

    [Fact]
    public void Search_WithTree_MutatesOnlyByThatTreeAndRecordsPathAndHash()
    {
        var path = WriteTree("activation-only.json", "operator.activation");
        var allowed = AttributeTree.Default().Granularities.SelectMany(g => g.Categories).Single(c => c.Id == "operator.activation").Attributes.Select(a => a.Id).ToHashSet();

        var outcome = SearchFixture.Run(_fixture.Request() with { TreePath = path }).Single();

        var mutated = outcome.AllEvaluations.Where(e => e.Attribute is not null).ToList();
        Assert.NotEmpty(mutated);
        Assert.All(mutated, e => Assert.Contains(e.Attribute!, allowed));
        var knowledge = Knowledge(outcome);
        Assert.Equal(path, knowledge["path"]!.GetValue<string>());
        Assert.Equal(Sha256(path), knowledge["sha256"]!.GetValue<string>());
        Assert.Equal(AttributeTree.Default().Granularities.SelectMany(g => g.Categories).Single(c => c.Id == "operator.activation").Attributes.Count(a => a.Realisations.Count > 0),
            knowledge["realised"]!.GetValue<int>());
    }

    [Fact]
    public void Search_NoTree_RecordsNoPathAndTheCuratedFilesHash()
    {
        var curated = Path.Combine(RepositoryRoot(), "knowledge", "attribute-tree.json");

        var outcome = SearchFixture.Run(_fixture.Request()).Single();

        var knowledge = Knowledge(outcome);
        Assert.Null(knowledge["path"]);
        Assert.Equal(Sha256(curated), knowledge["sha256"]!.GetValue<string>());
    }

    [Fact]
    public void Search_TreeWithoutAnyRealisation_RefusedBeforeAnythingIsWrittenNamingTheTree()
    {
        var path = WriteTree("unrealised.json", "no such category");

        var e = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_fixture.Request() with { TreePath = path }));

        Assert.StartsWith($"attribute tree {path}: no attribute has a realisation, so fair-idea and Pareto-aware mutation would have nothing to apply", e.Message);
        Assert.False(Directory.Exists(_fixture.Results));
    }

    [Fact]
    public void Resume_AnotherTree_RefusedNamingBothHashesAndTheManifest()
    {
        var path = WriteTree("activation-only.json", "operator.activation");
        var other = WriteTree("normalisation-only.json", "operator.normalisation");
        var outcome = SearchFixture.Run(_fixture.Request() with { TreePath = path }).Single();

        var e = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_fixture.Request(resume: outcome.Run) with { TreePath = other }));

        Assert.Contains(Path.Combine(outcome.RunDirectory, RunArchive.ManifestFile), e.Message);
        Assert.Contains($"attribute tree {path} ({Sha256(path)})", e.Message);
        Assert.Contains($"{other} is {Sha256(other)} now", e.Message);
    }

    [Fact]
    public void Resume_RecordedTreeEditedSince_RefusedNamingTheFile()
    {
        var path = WriteTree("activation-only.json", "operator.activation");
        var outcome = SearchFixture.Run(_fixture.Request() with { TreePath = path }).Single();
        var recorded = Sha256(path);
        File.WriteAllText(path, File.ReadAllText(path).Replace("only operator.activation realised", "edited", StringComparison.Ordinal));

        var e = Assert.Throws<ExperimentException>(() => SearchFixture.Run(_fixture.Request(resume: outcome.Run)));

        Assert.Contains($"attribute tree {path} ({recorded}), but {path} is {Sha256(path)} now", e.Message);
    }

    [Fact]
    public async Task Reproduce_RecordedTreeMissing_RefusedNamingTheFile()
    {
        var path = WriteTree("activation-only.json", "operator.activation");
        var outcome = SearchFixture.Run(_fixture.Request() with { TreePath = path }).Single();
        File.Delete(path);

        var e = await Assert.ThrowsAsync<ExperimentException>(() =>
            Reproduction.RunAsync(_fixture.Results, outcome.Run, WorkerCommand.ForAssembly("fairnad.dll"), null, evaluator: _ => new SyntheticEvaluator()));

        Assert.Contains($"the run searched with attribute tree {path} ({Sha256Text(outcome)}), which does not exist here", e.Message);
    }

    [Fact]
    public async Task Reproduce_RunOnGivenTree_UsesTheRecordedTreeAndMatches()
    {
        var path = WriteTree("activation-only.json", "operator.activation");
        var outcome = SearchFixture.Run(_fixture.Request() with { TreePath = path }).Single();

        var report = await Reproduction.RunAsync(_fixture.Results, outcome.Run, WorkerCommand.ForAssembly("fairnad.dll"), null, evaluator: _ => new SyntheticEvaluator());

        Assert.True(report.Passed, string.Join("\n", report.Differences));
    }

    private static string Sha256Text(SearchOutcome outcome) => Knowledge(outcome)["sha256"]!.GetValue<string>();

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "FairNad.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("FairNad.sln not found above the test folder");
    }
}
