using System.Text.Json;
using FairNad.Architecture;
using FairNad.Knowledge;
using FairNad.Tests.Shared;

namespace FairNad.Search.Tests;

/// <summary>
/// Answers that carry operators the LLM wrote: how the mutator reads them, resolves references and hands them to
/// verification (here a stand-in that records its calls; the real one runs a worker, see FairNad.Experiments.Tests).
/// </summary>
public sealed class OperatorAnswerTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "fairnad-answers-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static LlmMutationRequest Request()
    {
        var tree = AttributeTree.Default();
        var category = tree.Granularities[0].Categories[0];
        var space = new ArchitectureSpace(tree, ArchitectureSpace.ScaledReferences(["resnet"], new InputSpec(1, 28, 10), 20_000), 20_000);
        return new LlmMutationRequest(space.Seeds[0], category.Attributes[0], category, "(none yet)\n", space);
    }

    /// <summary>The parent with a residual branch through a custom node whose source is <paramref name="source"/>.</summary>
    private static JsonElement Answer(ArchitectureSpec parent, string source, params string[] operators)
    {
        var output = parent.Block.Output;
        var child = parent with
        {
            Block = new BlockSpec([.. parent.Block.Nodes, new NodeSpec("w", "custom", output).With("source", source), new NodeSpec("w_sum", "add", "w", output)], "w_sum"),
        };
        return JsonSerializer.SerializeToElement(new
        {
            summary = "a written operator",
            architecture = JsonDocument.Parse(SpecJson.Write(child)).RootElement,
            operators = operators.Select(o => new { source = o }).ToArray(),
        });
    }

    private (OperatorWriting Writing, List<IReadOnlyDictionary<string, string>> Calls) Writing(string? problem = null)
    {
        var calls = new List<IReadOnlyDictionary<string, string>>();
        return (new OperatorWriting(new OperatorStore(_directory), (_, sources) =>
        {
            calls.Add(sources);
            return problem;
        }), calls);
    }

    /// <summary>
    /// Verification that "measures" like a worker, with <paramref name="cost"/> per application (in, out channels) and at
    /// the probe corners, into the run's table: the custom node "w" takes the block's former output at the block width.
    /// </summary>
    private (OperatorWriting Writing, List<ArchitectureSpec> Verified) Measuring(Func<int, int, long> cost)
    {
        var costs = new OperatorCostTable();
        var verified = new List<ArchitectureSpec>();
        return (new OperatorWriting(new OperatorStore(_directory), (spec, sources) =>
        {
            verified.Add(spec);
            var reference = sources.Keys.Single();
            var input = spec.Block.Nodes.Single(n => n.Id == "w").Inputs[0];
            foreach (var stage in ArchitectureAnalyzer.Analyze(spec).Stages)
            {
                var size = stage.NodeShapes[input].H;
                costs.Add(reference, new OperatorCost(stage.NodeShapes[input].C, stage.Width, 1, size, size, cost(stage.NodeShapes[input].C, stage.Width), 0));
                foreach (var i in OperatorCostTable.ProbeChannels)
                {
                    foreach (var o in OperatorCostTable.ProbeChannels)
                    {
                        costs.Add(reference, new OperatorCost(i, o, 1, size, size, cost(i, o), 0));
                    }
                }
            }

            return null;
        }, costs), verified);
    }

    [Fact]
    public void Check_MeasuredOperatorOverBudget_RefittedWithEstimateAndMeasuredWithin()
    {
        var request = Request();
        // A 3 x 3 convolution's parameters: far more than the 20,000 budget leaves at the seed's widths.
        var (writing, verified) = Measuring((i, o) => (9L * i * o) + o);

        var (child, problem, _) = LlmSpecMutator.Check(Answer(request.Parent, "operators[0]", WrittenOperators.Ghost), request, null, writing);

        Assert.Null(problem);
        // Verified twice: as fitted with the operator at 0, then refitted with its measured cost.
        Assert.Equal(2, verified.Count);
        Assert.Equal(child!.Id, verified[1].Id);
        Assert.True(ArchitectureAnalyzer.Analyze(verified[0], writing.Costs).Parameters > request.Space.Budget);
        var measured = ArchitectureAnalyzer.Analyze(child, writing.Costs);
        Assert.Empty(measured.Unmeasured);
        Assert.InRange(measured.Parameters, request.Space.Budget * 8 / 10, request.Space.Budget);
        Assert.True(child.Stages[^1].Width < verified[0].Stages[^1].Width);
    }

    [Fact]
    public void Check_MeasuredCostTheEstimateMisses_OverBudgetProblemWithMeasuredCount()
    {
        var request = Request();
        // Cheap at the probe widths, a million parameters anywhere else: the estimate cannot see it.
        var (writing, verified) = Measuring((i, o) => OperatorCostTable.ProbeChannels.Contains(i) && OperatorCostTable.ProbeChannels.Contains(o) ? 1 : 1_000_000);

        var (child, problem, _) = LlmSpecMutator.Check(Answer(request.Parent, "operators[0]", WrittenOperators.Ghost), request, null, writing);

        Assert.Null(child);
        Assert.Contains("with your operators' costs measured, the architecture has", problem, StringComparison.Ordinal);
        Assert.Contains("over the budget of 20,000", problem, StringComparison.Ordinal);
        Assert.Single(verified);
    }

    [Fact]
    public void Check_PositionalReference_ResolvedToHashAndVerifiedWithTheSource()
    {
        var request = Request();
        var (writing, calls) = Writing();

        var (child, problem, sources) = LlmSpecMutator.Check(Answer(request.Parent, "operators[0]", WrittenOperators.Ghost), request, null, writing);

        Assert.Null(problem);
        var ghost = OperatorSources.Hash(WrittenOperators.Ghost);
        Assert.Equal([ghost], OperatorSources.References(child!));
        Assert.Equal(WrittenOperators.Ghost, Assert.Single(calls)[ghost]);
        Assert.Equal(WrittenOperators.Ghost, sources[ghost]);
        // Nothing is stored by a check: only an accepted mutation stores its sources.
        Assert.False(writing.Store.Contains(ghost));
    }

    [Fact]
    public void Check_HashOfAnOperatorOfTheRun_ReusedWithoutItsSource()
    {
        var request = Request();
        var (writing, calls) = Writing();
        var ghost = writing.Store.Put(WrittenOperators.Ghost);

        var (child, problem, _) = LlmSpecMutator.Check(Answer(request.Parent, ghost), request, null, writing);

        Assert.Null(problem);
        Assert.NotNull(child);
        Assert.Equal(WrittenOperators.Ghost, Assert.Single(calls)[ghost]);
    }

    [Theory]
    [InlineData("operators[1]", "does not point at one of your 1 operator(s)")]
    [InlineData("sha256:0000000000000000000000000000000000000000000000000000000000000000", "neither the SHA-256 of one of your 'operators' nor an operator of this run")]
    public void Check_UnknownReference_ProblemForRepair(string source, string expected)
    {
        var request = Request();
        var (writing, calls) = Writing();

        var (child, problem, _) = LlmSpecMutator.Check(Answer(request.Parent, source, WrittenOperators.Ghost), request, null, writing);

        Assert.Null(child);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
        Assert.Empty(calls);
    }

    [Fact]
    public void Check_VerificationFails_ProblemCarriesItsMessage()
    {
        var request = Request();
        var (writing, _) = Writing("forward returned shape [2, 16, 28, 28], the contract needs [2, 8, 28, 28]");

        var (child, problem, _) = LlmSpecMutator.Check(Answer(request.Parent, "operators[0]", WrittenOperators.WrongChannels), request, null, writing);

        Assert.Null(child);
        Assert.Equal("structural verification failed: forward returned shape [2, 16, 28, 28], the contract needs [2, 8, 28, 28]", problem);
    }

    [Fact]
    public void Check_OperatorsWithoutWriting_Refused()
    {
        var request = Request();

        var (child, problem) = LlmSpecMutator.Check(Answer(request.Parent, "operators[0]", WrittenOperators.Ghost), request);

        Assert.Null(child);
        Assert.Contains("'operators' is not allowed", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Prompt_WithoutStore_AsBefore_WithStore_ContractExampleAndCustomOperator()
    {
        var request = Request();
        var store = new OperatorStore(_directory);
        var ghost = store.Put(WrittenOperators.Ghost);

        var plain = LlmSpecMutator.Prompt(request);
        var writing = LlmSpecMutator.Prompt(request, store);

        Assert.Equal(plain.Select(m => m.Text), LlmSpecMutator.Prompt(request, null).Select(m => m.Text));
        Assert.DoesNotContain("- custom (", plain[0].Text, StringComparison.Ordinal);
        Assert.Contains("- custom (", writing[0].Text, StringComparison.Ordinal);
        Assert.Contains(LlmSpecMutator.OperatorContract, writing[0].Text, StringComparison.Ordinal);
        Assert.Contains("public sealed class GhostModule", writing[0].Text, StringComparison.Ordinal);
        Assert.Contains(ghost, writing[1].Text, StringComparison.Ordinal);
    }

    [Fact]
    public void SchemaWithOperators_CustomBranchAndOptionalOperators()
    {
        var schema = LlmSpecMutator.SchemaWithOperators;

        Assert.Equal(["summary", "architecture"], schema.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("array", schema.GetProperty("properties").GetProperty("operators").GetProperty("type").GetString());
        Assert.Contains("\"custom\"", schema.GetProperty("properties").GetProperty("architecture").GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain("\"custom\"", SpecSchema.Text, StringComparison.Ordinal);
    }
}
