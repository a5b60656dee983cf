using System.Text.Json;
using FairNad.Architecture;
using FairNad.Knowledge;

namespace FairNad.Search.Tests;

/// <summary>
/// The scripted designer writes operators when the prompt lets it (llm.writeOperators) and no realisation fits, moves
/// through its library on repair rounds, and answers prompts without the operator contract as its first rules did.
/// </summary>
public sealed class ScriptedDesignerOperatorTests : IDisposable
{
    private static readonly InputSpec Fashion = new(1, 28, 10);
    private static readonly AttributeTree Tree = AttributeTree.Default();
    private static readonly ArchitectureSpace Space = new(Tree, ArchitectureSpace.ScaledReferences(["resnet", "mlp_mixer"], Fashion, 20_000), 20_000);
    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-scripted-ops-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private OperatorStore Store => new(Path.Combine(_directory, OperatorSources.Folder));

    private static (CategoryNode Category, AttributeNode Attribute) WithoutRealisation() =>
        Tree.Attributes.Where(a => a.Attribute.Realisations.Count == 0).Select(a => (a.Category, a.Attribute)).First();

    private List<(string Role, string Content)> Question(ArchitectureSpec parent, OperatorStore? store)
    {
        var (category, attribute) = WithoutRealisation();
        return [.. LlmSpecMutator.Prompt(new LlmMutationRequest(parent, attribute, category, "(none yet)\n", Space), store).Select(m => (m.Role.Value, m.Text))];
    }

    private (ArchitectureSpec? Child, string? Problem, IReadOnlyDictionary<string, string> Sources) Check(ArchitectureSpec parent, string answer, Func<ArchitectureSpec, IReadOnlyDictionary<string, string>, string?> verify)
    {
        var (category, attribute) = WithoutRealisation();
        using var document = JsonDocument.Parse(answer);
        return LlmSpecMutator.Check(document.RootElement, new LlmMutationRequest(parent, attribute, category, string.Empty, Space), null, new OperatorWriting(Store, verify));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Answer_OperatorsAllowedAndNoRealisationFits_WritesLibraryOperatorThatPassesTheChecks(int seed)
    {
        var parent = Space.Seeds[seed];
        var verified = new List<IReadOnlyDictionary<string, string>>();

        var answer = new ScriptedDesigner(Tree).Answer(Question(parent, Store))!;
        var (child, problem, sources) = Check(parent, answer, (_, s) =>
        {
            verified.Add(s);
            return null;
        });

        Assert.Null(problem);
        var (reference, source) = Assert.Single(sources);
        Assert.Contains(ScriptedOperators.All, o => o.Source == source);
        Assert.Equal(OperatorSources.Hash(source), reference);
        Assert.Single(verified);
        var custom = Assert.Single(child!.Block.Nodes, n => n.Op == OperatorSources.OperatorName);
        Assert.Equal(reference, custom.Params["source"].Text);
        Assert.Contains("Scripted designer (rule-based, not a language model): no realisation of ", answer, StringComparison.Ordinal);
        Assert.Equal(answer, new ScriptedDesigner(Tree).Answer(Question(parent, Store)));
    }

    [Fact]
    public void Answer_BlockWithSpatialOperator_ReplacesItKeepingShapes()
    {
        var parent = Space.Seeds.First(s => s.Block.Nodes.Any(n => n.Op == "conv"));
        var first = parent.Block.Nodes.First(n => n.Op is "conv" or "relu_conv_bn" or "sep_conv" or "inverted_residual");

        var (child, problem, _) = Check(parent, new ScriptedDesigner(Tree).Answer(Question(parent, Store))!, (_, _) => null);

        Assert.Null(problem);
        Assert.Equal(parent.Block.Nodes.Count, child!.Block.Nodes.Count);
        Assert.Equal(OperatorSources.OperatorName, child.Block.Nodes.Single(n => n.Id == first.Id).Op);
    }

    [Fact]
    public void Answer_RepairAfterFailedVerification_WritesTheNextOperatorOfTheLibrary()
    {
        var parent = Space.Seeds[0];
        var designer = new ScriptedDesigner(Tree);
        var question = Question(parent, Store);
        var answers = new List<string> { designer.Answer(question)! };
        for (var round = 1; round < ScriptedOperators.All.Count; round++)
        {
            answers.Add(designer.Answer([.. question, ("assistant", answers[^1]), ("user", "That answer is invalid: structural verification failed: the network: output is not finite. Reply again.")])!);
        }

        var written = answers.Select(a => JsonDocument.Parse(a).RootElement.GetProperty("operators")[0].GetProperty("source").GetString()).ToList();
        Assert.Equal(ScriptedOperators.All.Count, written.Distinct().Count());
        var first = ScriptedOperators.All.ToList().FindIndex(o => o.Source == written[0]);
        Assert.Equal(ScriptedOperators.All[(first + 1) % ScriptedOperators.All.Count].Source, written[1]);
    }

    [Fact]
    public void Answer_OperatorsNotAllowed_ParentUnchangedAndNoOperators()
    {
        var parent = Space.Seeds[0];

        using var document = JsonDocument.Parse(new ScriptedDesigner(Tree).Answer(Question(parent, null))!);

        Assert.False(document.RootElement.TryGetProperty("operators", out _));
        Assert.Equal(parent.Id, SpecJson.Read(document.RootElement.GetProperty("architecture").GetRawText(), "answer").Id);
    }

    /// <summary>
    /// The quickstart ships the designer's answers (experiments/quickstart.llm, no operators): every recorded question,
    /// repair rounds included, gets the recorded answer from today's rules, so the quickstart replays them unchanged.
    /// </summary>
    [Fact]
    public void Answer_QuickstartRecordedQuestions_SameAnswersAsRecorded()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !Directory.Exists(Path.Combine(folder.FullName, "experiments", "quickstart.llm")))
        {
            folder = folder.Parent;
        }

        Assert.NotNull(folder);
        var designer = new ScriptedDesigner(Tree);
        var files = Directory.GetFiles(Path.Combine(folder.FullName, "experiments", "quickstart.llm"), "exchange-*.json");
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            using var exchange = JsonDocument.Parse(File.ReadAllText(file));
            var messages = exchange.RootElement.GetProperty("request").GetProperty("messages").EnumerateArray()
                .Select(m => (m.GetProperty("role").GetString()!, m.GetProperty("text").GetString()!)).ToList();

            Assert.Equal(exchange.RootElement.GetProperty("answer").GetString(), designer.Answer(messages));
        }
    }
}
