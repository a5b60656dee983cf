using System.Text.Json;
using System.Text.RegularExpressions;
using FairNad.Architecture;
using FairNad.Knowledge;

namespace FairNad.Search.Tests;

/// <summary>What the LLM-driven mutation sends: its format schema and its prompt speak the IR's language.</summary>
public sealed class LlmPromptTests
{
    private static readonly InputSpec Fashion = new(1, 28, 10);

    private static LlmMutationRequest Request(string reference = "resnet")
    {
        var tree = AttributeTree.Default();
        var category = tree.Granularities[0].Categories[0];
        var space = new ArchitectureSpace(tree, ArchitectureSpace.ScaledReferences([reference], Fashion, 20_000), 20_000);
        return new LlmMutationRequest(space.Seeds[0], category.Attributes[0], category, "(none yet)\n", space);
    }

    [Fact]
    public void Schema_Answer_SummaryAndTheSpecSchemaOnly()
    {
        var schema = LlmSpecMutator.Schema;

        Assert.Equal("object", schema.GetProperty("type").GetString());
        Assert.Equal(["summary", "architecture"], schema.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.False(schema.GetProperty("additionalProperties").GetBoolean());
        Assert.Equal(1, schema.GetProperty("properties").GetProperty("summary").GetProperty("minLength").GetInt32());
        Assert.Equal(SpecSchema.Text, JsonSerializer.Serialize(schema.GetProperty("properties").GetProperty("architecture")));
    }

    /// <summary>Every property name of the spec schema, operator parameters aside.</summary>
    private static IEnumerable<string> FieldNames(JsonElement schema)
    {
        if (schema.TryGetProperty("properties", out var properties))
        {
            foreach (var p in properties.EnumerateObject())
            {
                yield return p.Name;
                if (p.Name != "params")
                {
                    foreach (var name in FieldNames(p.Value))
                    {
                        yield return name;
                    }
                }
            }
        }

        if (schema.TryGetProperty("items", out var items))
        {
            foreach (var name in FieldNames(items))
            {
                yield return name;
            }
        }

        if (schema.TryGetProperty("anyOf", out var branches))
        {
            foreach (var name in branches.EnumerateArray().SelectMany(FieldNames))
            {
                yield return name;
            }
        }
    }

    [Fact]
    public void Prompt_StageWiseParent_OffersStageBlocksAndEveryOperator_PlainParentDoesNot()
    {
        var plain = LlmSpecMutator.Prompt(Request())[0].Text;
        var stageWise = LlmSpecMutator.Prompt(Request("swin"))[0].Text;

        Assert.DoesNotContain("may also have its own", plain, StringComparison.Ordinal);
        Assert.Contains("- A stage may also have its own \"block\"", stageWise, StringComparison.Ordinal);
        Assert.All(Operators.All, op => Assert.Contains($"- {op.Name} (", stageWise, StringComparison.Ordinal));
        Assert.True(LlmSpecMutator.IsStageWise(Request("swin").Parent));
        Assert.False(LlmSpecMutator.IsStageWise(Request().Parent));
        Assert.Equal(LlmSpecMutator.Schema.GetRawText(), LlmSpecMutator.SchemaFor(Request().Parent, withOperators: false).GetRawText());
        Assert.Equal(LlmSpecMutator.SchemaStageWiseWithOperators.GetRawText(), LlmSpecMutator.SchemaFor(Request("swin").Parent, withOperators: true).GetRawText());
        Assert.Equal(LlmSpecMutator.SchemaStageWiseWithOperators.GetRawText(), LlmSpecMutator.SchemaFor(Request().Parent, withOperators: true).GetRawText());
        Assert.Contains("window_mhsa", LlmSpecMutator.SchemaStageWise.GetRawText(), StringComparison.Ordinal);

        // The open-ended setting (operators may be written) offers stage blocks to every parent.
        var open = LlmSpecMutator.Prompt(Request(), new OperatorStore(Path.Combine(Path.GetTempPath(), "fairnad-no-such-operators")))[0].Text;
        Assert.Contains("- A stage may also have its own \"block\"", open, StringComparison.Ordinal);
        Assert.Contains("- window_mhsa (", open, StringComparison.Ordinal);
    }

    [Fact]
    public void Prompt_System_UsesTheIrNamesOnly()
    {
        var system = LlmSpecMutator.Prompt(Request())[0].Text;

        // Fields the LLM must write (format and name are optional), the block's input node and the enums, as the IR spells them.
        var fields = FieldNames(SpecSchema.Schema).Distinct().Except(["format", "name"]).ToList();
        Assert.Contains("preActivation", fields);
        Assert.All(fields, f => Assert.Matches($@"(\b|""){Regex.Escape(f)}(\b|"")", system));
        Assert.Contains($"\"{BlockSpec.InputName}\" is the block's input", system, StringComparison.Ordinal);
        Assert.DoesNotContain("'in'", system, StringComparison.Ordinal);
        Assert.All(Enum.GetNames<StemKind>().Concat(Enum.GetNames<DownsampleKind>()).Concat(Operators.Activations), n => Assert.Contains(n, system, StringComparison.Ordinal));
        Assert.All(Operators.Offered, op => Assert.Contains($"- {op.Name} (", system, StringComparison.Ordinal));
        Assert.All(Operators.NotYetOffered, name => Assert.DoesNotContain($"- {name} (", system, StringComparison.Ordinal));
        Assert.Contains("\"out\" are ratios of the stage width", system, StringComparison.Ordinal);
        Assert.Contains("- conv (1 input; params kernel=3, stride=1, dilation=1, groups=1, depthwise=false, out=1, bias=false)", system, StringComparison.Ordinal);
        Assert.Contains("- add (2 to 8 inputs; no params)", system, StringComparison.Ordinal);
    }

    [Fact]
    public void Prompt_User_CarriesTheParentAsWrittenJson()
    {
        var request = Request();

        var user = LlmSpecMutator.Prompt(request)[1].Text;

        Assert.Contains("```json\n" + SpecJson.Write(request.Parent) + "```\n", user, StringComparison.Ordinal);
        Assert.Contains("Parameter budget: 20,000", user, StringComparison.Ordinal);
    }
}
