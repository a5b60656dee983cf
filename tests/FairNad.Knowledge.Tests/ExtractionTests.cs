using System.Text.Json;
using FairNad.Llm;
using FairNad.Tests.Shared;

namespace FairNad.Knowledge.Tests;

public sealed class ExtractionTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-extract-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string Here() => AppContext.BaseDirectory;


    /// <summary>The neutral reference descriptions, the input of extraction.</summary>
    private static string References => Path.Combine(AppContext.BaseDirectory, "knowledge", "references", "neutral");

    /// <summary>A scripted server answering each reference from the fixtures, in order, repeating the last answer.</summary>
    private static ScriptedOllamaServer Server()
    {
        var fixtures = JsonDocument.Parse(File.ReadAllText(Path.Combine(Here(), "Fixtures", "extraction-answers.json"))).RootElement.GetProperty("answers");
        var queues = fixtures.EnumerateObject().ToDictionary(p => p.Name, p => new Queue<string>(p.Value.EnumerateArray().Select(v => v.GetString()!)));
        return new ScriptedOllamaServer(request =>
        {
            var messages = request.GetProperty("messages").EnumerateArray().ToList();
            var first = messages.First(m => m.GetProperty("role").GetString() == "user").GetProperty("content").GetString()!;
            var reference = first.Split('\n')[0]["Reference model: ".Length..];
            var queue = queues[reference];
            return queue.Count > 1 ? queue.Dequeue() : queue.Peek();
        });
    }

    private LlmSettings Settings(ScriptedOllamaServer? server, LlmMode mode) =>
        new("test-model", server?.Uri ?? new Uri("http://127.0.0.1:9/"), mode, Path.Combine(_directory, "transcripts"));

    [Fact]
    public async Task Extract_ScriptedServer_TreeAndReportMatchSnapshots()
    {
        using var server = Server();
        using var session = await LlmSession.OpenAsync(Settings(server, LlmMode.Live), KnowledgeExtractor.Stage);

        var result = await KnowledgeExtractor.ExtractAsync(session, References, AttributeTree.Default());

        Snapshot.Match("extracted-tree.json", result.Tree.Write());
        Snapshot.Match("merge-report.md", result.Report);
        Assert.Equal(16, server.ChatRequests.Count); // 15 references, one answer repaired
        Assert.Empty(result.Tree.Validate());
        Assert.Equal("extracted", result.Tree.Provenance.Method);
        Assert.Equal(ScriptedOllamaServer.Digest, result.Tree.Provenance.ModelDigest);
    }

    [Fact]
    public async Task Extract_MergeRules_EachFailureModeHandledAndReported()
    {
        using var server = Server();
        using var session = await LlmSession.OpenAsync(Settings(server, LlmMode.Live), KnowledgeExtractor.Stage);

        var result = await KnowledgeExtractor.ExtractAsync(session, References, AttributeTree.Default());

        var kinds = result.Decisions.GroupBy(d => d.Kind).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Contains(kinds["generalised"], d => d.Subject.StartsWith("'MBConv block with squeeze'", StringComparison.Ordinal));
        Assert.Contains(kinds["dropped"], d => d.Subject.StartsWith("'Shifted window attention'", StringComparison.Ordinal));
        Assert.Contains(kinds["moved"], d => d.Reason.Contains("placed in block.recalibration", StringComparison.Ordinal));
        Assert.Contains(kinds["filled"], d => d.Subject == "network.hierarchy");
        var se = result.Tree.Find("block.recalibration.squeeze-excitation")!;
        Assert.Equal(["efficientnet", "mobilenetv2", "senet"], se.References);
        Assert.NotEmpty(se.Realisations);
        Assert.Contains(result.Tree.Attributes, x => x.Attribute.Realisations.Count == 0);
        Assert.Contains(server.ChatRequests, r => ScriptedOllamaServer.LastUserMessage(r).StartsWith("That answer is invalid: attributes[0].category must be one of", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Extract_Replay_ByteIdenticalTreeWithNoServer()
    {
        string recorded;
        using (var server = Server())
        using (var live = await LlmSession.OpenAsync(Settings(server, LlmMode.Live), KnowledgeExtractor.Stage))
        {
            recorded = (await KnowledgeExtractor.ExtractAsync(live, References, AttributeTree.Default())).Tree.Write();
        }

        using var replay = await LlmSession.OpenAsync(Settings(null, LlmMode.Replay), KnowledgeExtractor.Stage);
        var replayed = await KnowledgeExtractor.ExtractAsync(replay, References, AttributeTree.Default());

        Assert.Equal(recorded, replayed.Tree.Write());
        Assert.Equal(0, replay.Ledger.Entries.Sum(e => e.Live));
    }

    [Fact]
    public void Validate_Answers_NameTheBrokenField()
    {
        Assert.Equal("the answer must be an object with an 'attributes' array", KnowledgeExtractor.Validate(JsonDocument.Parse("[]").RootElement));
        Assert.StartsWith("attributes[0].effect must be one of", KnowledgeExtractor.Validate(JsonDocument.Parse("""{"attributes":[{"category":"operator.activation","name":"x","description":"y","effect":"speed"}]}""").RootElement));
        Assert.Null(KnowledgeExtractor.Validate(JsonDocument.Parse("""{"attributes":[{"category":"operator.activation","name":"x","description":"y","effect":"accuracy"}]}""").RootElement));
    }

    [Fact]
    public void Validate_PresentIdNotInTheList_NamesTheIdAndTheList()
    {
        var known = new HashSet<string>(["operator.activation.relu6"], StringComparer.Ordinal);

        Assert.Equal("present[0] is \"operator.activation.gelu\", which is not an id of the list",
            KnowledgeExtractor.Validate(JsonDocument.Parse("""{"present":["operator.activation.gelu"],"attributes":[]}""").RootElement, known));
        Assert.StartsWith("the answer names no attribute", KnowledgeExtractor.Validate(JsonDocument.Parse("""{"present":[],"attributes":[]}""").RootElement, known));
        Assert.Null(KnowledgeExtractor.Validate(JsonDocument.Parse("""{"present":["operator.activation.relu6"],"attributes":[]}""").RootElement, known));
        Assert.StartsWith("present[0] is \"x\", but the list is empty", KnowledgeExtractor.Validate(JsonDocument.Parse("""{"present":["x"],"attributes":[]}""").RootElement));
    }

    [Fact]
    public void Prompt_KnownAttributes_ListedWithIdNameDescriptionAndAskedForWhatIsMissing()
    {
        var relu6 = AttributeTree.Default().Find("operator.activation.relu6")!;

        var prompt = KnowledgeExtractor.Prompt("mobilenetv2", "A description.", [relu6]);

        Assert.Contains($"- operator.activation.relu6: {relu6.Name}. {relu6.Description}\n", prompt[0].Text);
        Assert.Contains("Find what the list lacks", prompt[0].Text);
        Assert.DoesNotContain("The attribute list is empty so far.", prompt[0].Text);
        Assert.Contains("The attribute list is empty so far.", KnowledgeExtractor.Prompt("mobilenetv2", "A description.")[0].Text);
    }

    [Fact]
    public async Task Extract_LaterReferences_PromptListsEarlierAttributesAndPresentIdAddsTheReference()
    {
        using var server = Server();
        using var session = await LlmSession.OpenAsync(Settings(server, LlmMode.Live), KnowledgeExtractor.Stage);

        var result = await KnowledgeExtractor.ExtractAsync(session, References, AttributeTree.Default());

        static string System(JsonElement request) => request.GetProperty("messages")[0].GetProperty("content").GetString()!;
        string For(string reference) => System(server.ChatRequests.First(r => ScriptedOllamaServer.LastUserMessage(r).StartsWith($"Reference model: {reference}\n", StringComparison.Ordinal)));
        Assert.Contains("The attribute list is empty so far.", For("convnext"));
        Assert.Contains("- block.residual-multibranch.identity-shortcut: Identity shortcut. Keep an identity path around every block.\n", For("resnet"));
        Assert.DoesNotContain("Compound scaling", For("convnext"));
        Assert.Contains("Compound scaling", For("vit"));
        Assert.Equal(["convnext", "resnet"], result.Tree.Find("block.residual-multibranch.identity-shortcut")!.References);
        Assert.Single(result.Proposed, p => p.Listed);
        Assert.Contains("- Listed as present: 1 uses of an attribute already in the list by a later reference\n", result.Report);
    }

    [Fact]
    public async Task Extract_Report_ComparesWithCuratedTreeAndFlagsUnrealisedAttributes()
    {
        using var server = Server();
        using var session = await LlmSession.OpenAsync(Settings(server, LlmMode.Live), KnowledgeExtractor.Stage);

        var result = await KnowledgeExtractor.ExtractAsync(session, References, AttributeTree.Default());

        var unrealised = result.Tree.Attributes.Where(x => x.Attribute.Realisations.Count == 0).Select(x => x.Attribute.Id).ToList();
        Assert.NotEmpty(unrealised);
        Assert.Contains("## Compared with the curated tree\n", result.Report);
        Assert.Contains($"- Without a realisation (flagged: LLM-driven mutation realises them on first use; the rule-based mutations skip them): {unrealised.Count}\n", result.Report);
        Assert.All(unrealised, id => Assert.Contains($"  - {id}\n", result.Report));
        var curated = AttributeTree.Default().Attributes.Select(x => x.Attribute.Id).ToList();
        var found = curated.Count(id => result.Tree.Find(id) is not null);
        Assert.Contains($"- Curated attributes in the extracted tree: {found} of {curated.Count}\n", result.Report);
    }

    [Fact]
    public void Prompt_CarriesTemplateConstraintsAndDescription()
    {
        var prompt = KnowledgeExtractor.Prompt("resnet", "A description.");

        Assert.Contains("block.recalibration: Adaptive feature recalibration", prompt[0].Text);
        Assert.Contains("never use model-specific module or model names", prompt[0].Text);
        Assert.Equal("Reference model: resnet\n\nA description.", prompt[1].Text);
    }

    /// <summary>Proposals with one name three times (two spellings), a name that lands in two main categories, and a description of another mechanism.</summary>
    private static (AttributeTree Tree, string Report) AuditFixture()
    {
        const string shuffle = "Shuffle the feature maps across branches so information crosses between them.";
        ExtractedAttribute[] proposed =
        [
            new("resnext", "operator.feature-extraction", "Depthwise separable convolution", shuffle, "efficiency"),
            new("shufflenetv2", "operator.feature-extraction", "depthwise  Separable-convolution", shuffle, "efficiency"),
            new("mobilenetv2", "operator.feature-extraction", "Depthwise separable convolution", shuffle, "efficiency"),
            new("vit", "network.depth-width", "Isotropic stack", "Keep one width and resolution in every stage after the stem.", "accuracy"),
        ];
        var links = new List<CuratedLink>();
        var (tree, _) = KnowledgeExtractor.Merge(proposed, AttributeTree.Default(), new Provenance("extracted", "test", null, null), links);
        return (tree, KnowledgeExtractor.Audit(proposed, tree, links));
    }

    [Fact]
    public void Audit_DuplicateNames_ReportsDistinctCountAndRepeatedNames()
    {
        var (_, report) = AuditFixture();

        Assert.Contains("- Names: 2 distinct attribute names in 4 proposals\n", report);
        Assert.Contains("  - proposed 3 times: 'Depthwise separable convolution' (mobilenetv2, resnext, shufflenetv2)\n", report);
        Assert.DoesNotContain("proposed 1 times", report);
    }

    [Fact]
    public void Audit_NameInTwoCategories_ReportsBothIds()
    {
        var (tree, report) = AuditFixture();

        Assert.Empty(tree.Validate());
        Assert.Contains("- In more than one main category: 1 attribute name(s)\n", report);
        Assert.Contains("  - attribute name 'Isotropic stack' is in 2 main categories: network.depth-width.isotropic-stack, network.hierarchy.isotropic\n", report);
    }

    [Fact]
    public void Audit_LinkedNameWithAnotherMechanismsDescription_ReportsMismatch()
    {
        var (tree, report) = AuditFixture();

        Assert.Single(tree.Attributes, x => x.Attribute.Id == "operator.feature-extraction.depthwise-separable");
        Assert.Contains("- Name/description mismatches (description overlap with the linked curated attribute below 0.1): 1 of 1 links\n", report);
        Assert.Contains("  - 'Depthwise separable convolution' (mobilenetv2) linked to operator.feature-extraction.depthwise-separable by name, but its description overlaps 0.00: \"Shuffle the feature maps", report);
    }

    [Fact]
    public void DescriptionOverlap_SameAndUnrelated_OneAndZero()
    {
        Assert.Equal(1, KnowledgeExtractor.DescriptionOverlap("Normalise each channel with batch statistics.", "normalise the channels, with batch statistics"));
        Assert.Equal(0, KnowledgeExtractor.DescriptionOverlap("Shuffle the feature maps.", "Clip activations at 6."));
    }

    [Fact]
    public void Warnings_DuplicateAndCrossCategoryNames_ListedButTreeStillValid()
    {
        Assert.Empty(AttributeTree.Default().Warnings());
        var edited = KnowledgeTrees.WithRepeatedAndCrossCategoryNames();
        var first = AttributeTree.Default().Granularities[0].Categories[0].Attributes[0];

        Assert.Empty(edited.Validate());
        Assert.Equal(
            [
                "attribute name 'Isotropic stack' is in 2 main categories: network.depth-width.isotropic, network.hierarchy.isotropic",
                $"attribute name '{first.Name}' is used 2 times in operator.feature-extraction: {first.Id}, operator.feature-extraction.copy",
            ],
            edited.Warnings());
    }
}
