using System.Net;
using System.Text;
using System.Text.Json;
using FairNad.Architecture;
using FairNad.Knowledge;
using Microsoft.Extensions.AI;

namespace FairNad.Search.Tests;

/// <summary>The built-in scripted designer: it answers mutation prompts by the attribute tree's realisations, and nothing else.</summary>
public sealed class ScriptedDesignerTests
{
    private static readonly InputSpec Fashion = new(1, 28, 10);
    private static readonly AttributeTree Tree = AttributeTree.Default();
    private static readonly ArchitectureSpace Space = new(Tree, ArchitectureSpace.ScaledReferences(["resnet"], Fashion, 20_000), 20_000);

    private static (CategoryNode Category, AttributeNode Attribute) Find(Func<AttributeNode, bool> which) =>
        Tree.Attributes.Where(a => which(a.Attribute)).Select(a => (a.Category, a.Attribute)).First();

    private static List<(string Role, string Content)> Question(AttributeNode attribute, CategoryNode category, ArchitectureSpec parent) =>
        [.. LlmSpecMutator.Prompt(new LlmMutationRequest(parent, attribute, category, "(none yet)\n", Space)).Select(m => (m.Role.Value, m.Text))];

    [Fact]
    public void Answer_RealisableAttribute_ValidChildThatPassesTheMutationsChecks()
    {
        var parent = Space.Seeds[0];
        var (category, attribute) = Find(a => a.Realisations.Any(r => Applies(r, parent)));
        var designer = new ScriptedDesigner(Tree);

        var answer = designer.Answer(Question(attribute, category, parent))!;
        using var document = JsonDocument.Parse(answer);
        var (child, problem) = LlmSpecMutator.Check(document.RootElement, new LlmMutationRequest(parent, attribute, category, string.Empty, Space));

        Assert.Null(problem);
        Assert.NotEqual(parent.Id, child!.Id);
        Assert.StartsWith("Scripted designer (rule-based, not a language model): applied ", document.RootElement.GetProperty("summary").GetString(), StringComparison.Ordinal);
        Assert.Equal(answer, new ScriptedDesigner(Tree).Answer(Question(attribute, category, parent)));
    }

    [Fact]
    public void Answer_AttributeWithoutRealisation_ParentUnchangedAndSaysWhy()
    {
        var parent = Space.Seeds[0];
        var (category, attribute) = Find(a => a.Realisations.Count == 0);

        using var document = JsonDocument.Parse(new ScriptedDesigner(Tree).Answer(Question(attribute, category, parent))!);

        Assert.Equal(parent.Id, SpecJson.Read(document.RootElement.GetProperty("architecture").GetRawText(), "answer").Id);
        Assert.Contains($"{attribute.Name} has no realisation in the attribute tree", document.RootElement.GetProperty("summary").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Answer_RepairRound_TriesAnotherRealisation()
    {
        var parent = Space.Seeds[0];
        var (category, attribute) = Find(a => a.Realisations.Count(r => Applies(r, parent)) >= 2);
        var designer = new ScriptedDesigner(Tree);
        var question = Question(attribute, category, parent);
        var first = designer.Answer(question)!;

        var second = designer.Answer([.. question, ("assistant", first), ("user", "That answer is invalid: the child is a duplicate. Answer again.")])!;

        Assert.NotEqual(Architecture(first), Architecture(second));
    }

    [Fact]
    public void Answer_NotAMutationPrompt_Null()
    {
        Assert.Null(new ScriptedDesigner(Tree).Answer([("system", "Extract design attributes."), ("user", "Paper: ResNet ...")]));
    }

    [Fact]
    public async Task Send_ChatOverOllamasApi_StreamedAnswerAndTagsWithItsDigest()
    {
        using var designer = new ScriptedDesigner(Tree);
        using var http = new HttpClient(designer) { BaseAddress = new Uri("http://localhost:11434") };
        var parent = Space.Seeds[0];
        var (category, attribute) = Find(a => a.Realisations.Any(r => Applies(r, parent)));
        var messages = Question(attribute, category, parent).Select(m => new { role = m.Role, content = m.Content });

        var tags = await http.GetStringAsync(new Uri("/api/tags", UriKind.Relative));
        using var chat = await http.PostAsync(new Uri("/api/chat", UriKind.Relative), new StringContent(JsonSerializer.Serialize(new { model = "fairnad-scripted", messages, stream = true }), Encoding.UTF8, "application/json"));
        var lines = (await chat.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        using var refused = await http.PostAsync(new Uri("/api/chat", UriKind.Relative), new StringContent("""{"model": "fairnad-scripted", "messages": [{"role": "user", "content": "Summarise this paper."}]}""", Encoding.UTF8, "application/json"));

        Assert.Contains(designer.Digest, tags, StringComparison.Ordinal);
        Assert.Matches("^sha256:[0-9a-f]{64}$", designer.Digest);
        Assert.Equal(2, lines.Length);
        Assert.True(JsonDocument.Parse(lines[1]).RootElement.GetProperty("done").GetBoolean());
        Assert.Equal(designer.Answer(Question(attribute, category, parent)), JsonDocument.Parse(lines[0]).RootElement.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("answers only mutation prompts", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static string Architecture(string answer) => JsonDocument.Parse(answer).RootElement.GetProperty("architecture").GetRawText();

    private static bool Applies(Realisation realisation, ArchitectureSpec parent)
    {
        try
        {
            return realisation.Apply(parent).Spec.Id != parent.Id;
        }
        catch (Exception e) when (e is FairNad.Architecture.Transforms.TransformNotApplicableException or InvalidOperationException or ArgumentException)
        {
            return false;
        }
    }
}
