using System.Text.Json;
using System.Text.Json.Nodes;
using FairNad.Tests.Shared;
using Json.Schema;

namespace FairNad.Architecture.Tests;

/// <summary>
/// The LLM's format schema (<see cref="SpecSchema"/>) against the IR: it accepts every spec the repository writes, rejects
/// the structural and typing mistakes the reader and the analyzer reject, and covers the whole operator library.
/// </summary>
public sealed class SpecSchemaTests
{
    /// <summary>Every input the repository trains on: CIFAR-10, CIFAR-100, Fashion-MNIST, ImageNet16-120.</summary>
    private static readonly InputSpec[] Inputs = [new(3, 32, 10), new(3, 32, 100), new(1, 28, 10), new(3, 16, 120)];

    /// <summary>The parameter budgets of the experiments (quickstart, fashion-mnist, the NADER setting).</summary>
    private static readonly long[] Budgets = [20_000, 100_000, 1_500_000];

    private static readonly JsonSchema Compiled = JsonSchema.FromText(SpecSchema.Text);

    private static readonly EvaluationOptions Flag = new() { OutputFormat = OutputFormat.Flag };

    private static bool SchemaAccepts(JsonNode json) => SchemaAccepts(json.ToJsonString());

    private static bool SchemaAccepts(string json)
    {
        using var document = JsonDocument.Parse(json);
        return Compiled.Evaluate(document.RootElement, Flag).IsValid;
    }

    /// <summary>The reader's error, or null when it reads the spec.</summary>
    private static string? ReaderError(string json)
    {
        try
        {
            SpecJson.Read(json, "spec");
            return null;
        }
        catch (SpecFormatException e)
        {
            return e.Message;
        }
    }

    /// <summary>What the IR says about the spec: the reader's error, else the analyzer's errors, else null (valid).</summary>
    private static string? IrErrors(string json) =>
        ReaderError(json) ?? (ArchitectureAnalyzer.Analyze(SpecJson.Read(json, "spec")) is { IsValid: false } analysis ? string.Join("; ", analysis.Errors) : null);

    private static JsonObject Resnet() => JsonNode.Parse(SpecJson.Write(ReferenceArchitectures.Get("resnet")))!.AsObject();

    private static JsonObject NodeOf(JsonObject spec, string op) =>
        spec["block"]!["nodes"]!.AsArray().Select(n => n!.AsObject()).First(n => (string?)n["op"] == op);

    private static JsonObject ParamsOf(JsonObject spec, string op) => NodeOf(spec, op)["params"]!.AsObject();

    /// <summary>The references the schema offers: not the stage-wise ones (see <see cref="Operators.NotYetOffered"/>).</summary>
    public static TheoryData<string> References => [.. ReferenceArchitectures.Names.Except(StageWiseSpecTests.StageWiseReferences)];

    [Theory]
    [MemberData(nameof(StageWiseReferences))]
    public void Schema_StageWiseReference_NotOfferedYet(string name)
    {
        Assert.False(SchemaAccepts(SpecJson.Write(ReferenceArchitectures.Get(name))));
        Assert.Null(ReaderError(SpecJson.Write(ReferenceArchitectures.Get(name))));
    }

    public static TheoryData<string> StageWiseReferences => [.. StageWiseSpecTests.StageWiseReferences];

    [Theory]
    [MemberData(nameof(StageWiseReferences))]
    public void StageWiseSchema_StageWiseReferenceAtEveryInputAndBudget_AcceptedAndOldTextUnchanged(string name)
    {
        var stageWise = JsonSchema.FromText(SpecSchema.ToNodeStageWise(includeCustom: false).ToJsonString());
        foreach (var input in Inputs)
        {
            var reference = ReferenceArchitectures.Get(name, input);
            foreach (var spec in Budgets.Select(b => WidthScaler.ScaleToBudget(reference, b).Spec).Prepend(reference))
            {
                foreach (var json in new[] { SpecJson.Write(spec), SpecJson.Canonical(spec) })
                {
                    using var document = JsonDocument.Parse(json);
                    Assert.True(stageWise.Evaluate(document.RootElement, Flag).IsValid, $"{name} at {input} is rejected by the stage-wise schema:\n{json}");
                }
            }
        }

        using var resnet = JsonDocument.Parse(SpecJson.Write(ReferenceArchitectures.Get("resnet")));
        Assert.True(stageWise.Evaluate(resnet.RootElement, Flag).IsValid);
        Assert.Equal(SpecSchema.Text, SpecSchema.Build().ToJsonString());
    }

    [Theory]
    [MemberData(nameof(References))]
    public void Schema_ReferenceAtEveryInputAndBudget_Accepted(string name)
    {
        foreach (var input in Inputs)
        {
            var reference = ReferenceArchitectures.Get(name, input);
            var specs = Budgets.Select(b => WidthScaler.ScaleToBudget(reference, b).Spec).Prepend(reference);
            foreach (var spec in specs)
            {
                foreach (var json in new[] { SpecJson.Write(spec), SpecJson.Write(spec, indented: false, includeName: false), SpecJson.Canonical(spec) })
                {
                    Assert.Null(ReaderError(json));
                    Assert.True(SchemaAccepts(json), $"{name} at {input} ({spec.Name}) is rejected by the schema:\n{json}");
                }
            }
        }
    }

    [Fact]
    public void Schema_Nb201Cells_Accepted()
    {
        // Cells with one operation on every edge, and a stride through the space that varies every edge.
        var codes = Enumerable.Range(0, Nb201.Operations.Count).Select(o => Enumerable.Range(0, 6).Sum(e => o * (int)Math.Pow(5, e)))
            .Concat(Enumerable.Range(0, Nb201.CellCount).Where(c => c % 127 == 0));
        foreach (var dataset in new[] { "cifar10", "cifar100", "imagenet16-120" })
        {
            foreach (var code in codes)
            {
                var json = SpecJson.Write(Nb201.ToSpec(Nb201.CellAt(code), Nb201.InputFor(dataset)));
                Assert.Null(IrErrors(json));
                Assert.True(SchemaAccepts(json), $"cell {Nb201.CellAt(code)} on {dataset} is rejected by the schema");
            }
        }
    }

    /// <summary>Mistakes of structure and type, each applied to ResNet's spec, with the IR's error it must cause.</summary>
    private static readonly Dictionary<string, (Action<JsonObject> Mutate, string Error)> Mistakes = new()
    {
        ["unknown operator"] = (s => NodeOf(s, "conv")["op"] = "warp_drive", "unknown operator"),
        ["parameter of another operator"] = (s => ParamsOf(s, "conv")["fn"] = "relu", "unknown parameter 'fn'"),
        ["parameter on an operator without any"] = (s => ParamsOf(s, "batch_norm")["kernel"] = 3, "unknown parameter 'kernel'; it takes none"),
        ["misspelt parameter"] = (s => ParamsOf(s, "conv")["kernal"] = 3, "unknown parameter 'kernal'"),
        ["integer parameter as a string"] = (s => ParamsOf(s, "conv")["kernel"] = "3", "parameter 'kernel' must be an integer"),
        ["integer parameter with a fraction"] = (s => ParamsOf(s, "conv")["kernel"] = 3.5, "parameter 'kernel' must be an integer"),
        ["number parameter as a string"] = (s => ParamsOf(s, "conv")["out"] = "1", "parameter 'out' must be a number"),
        ["flag parameter as a number"] = (s => ParamsOf(s, "conv")["bias"] = 1, "parameter 'bias' must be true or false"),
        ["text parameter as a flag"] = (s => ParamsOf(s, "act")["fn"] = true, "parameter 'fn' must be a string"),
        ["null parameter"] = (s => ParamsOf(s, "conv")["kernel"] = null, "must be a number, string or boolean"),
        ["parameters not an object"] = (s => NodeOf(s, "conv")["params"] = new JsonArray(), "params: expected an object"),
        ["integer parameter above its maximum"] = (s => ParamsOf(s, "conv")["stride"] = 5, "parameter 'stride' is 5 but must lie in [1, 4]"),
        ["integer parameter below its minimum"] = (s => ParamsOf(s, "conv")["dilation"] = 0, "parameter 'dilation' is 0 but must lie in [1, 4]"),
        ["number parameter below its minimum"] = (s => ParamsOf(s, "conv")["out"] = 0, "parameter 'out' is 0 but must lie in"),
        ["number parameter above its maximum"] = (s => ParamsOf(s, "conv")["out"] = 65, "parameter 'out' is 65 but must lie in"),
        ["unknown activation of an act node"] = (s => ParamsOf(s, "act")["fn"] = "swish", "parameter 'fn' is 'swish' but must be one of"),
        ["unknown stem activation"] = (s => s["stem"]!["activation"] = "swish", "stem activation 'swish' is not none or one of"),
        ["unknown head pre-activation"] = (s => s["head"]!["preActivation"] = "swish", "head pre-activation 'swish' is not none or one of"),
        ["missing input classes"] = (s => s["input"]!.AsObject().Remove("classes"), "missing required field 'classes'"),
        ["missing stem kernel"] = (s => s["stem"]!.AsObject().Remove("kernel"), "missing required field 'kernel'"),
        ["missing stage width"] = (s => s["stages"]![0]!.AsObject().Remove("width"), "missing required field 'width'"),
        ["missing block output"] = (s => s["block"]!.AsObject().Remove("output"), "missing required field 'output'"),
        ["missing node inputs"] = (s => NodeOf(s, "conv").Remove("inputs"), "missing required field 'inputs'"),
        ["missing node op"] = (s => NodeOf(s, "conv").Remove("op"), "missing required field 'op'"),
        ["missing head dropout"] = (s => s["head"]!.AsObject().Remove("dropout"), "missing required field 'dropout'"),
        ["missing head"] = (s => s.Remove("head"), "missing required field 'head'"),
        ["unknown top-level field"] = (s => s["depth"] = 3, "$: unknown field 'depth'"),
        ["unknown input field"] = (s => s["input"]!["depth"] = 3, "$.input: unknown field 'depth'"),
        ["unknown stem field"] = (s => s["stem"]!["padding"] = 1, "$.stem: unknown field 'padding'"),
        ["unknown stage field"] = (s => s["stages"]![0]!["stride"] = 2, "unknown field 'stride'"),
        ["unknown block field"] = (s => s["block"]!["inputs"] = new JsonArray(), "$.block: unknown field 'inputs'"),
        ["unknown node field"] = (s => NodeOf(s, "conv")["kernel"] = 3, "unknown field 'kernel'"),
        ["unknown head field"] = (s => s["head"]!["classes"] = 10, "$.head: unknown field 'classes'"),
        ["unknown downsample"] = (s => s["stages"]![1]!["downsample"] = "MaxPool", "'MaxPool' is not one of None, StridedConv"),
        ["unknown stem kind"] = (s => s["stem"]!["kind"] = "Pixel", "'Pixel' is not one of Conv, Patchify"),
        ["too many inputs for a one-input operator"] = (s => NodeOf(s, "conv")["inputs"]!.AsArray().Add("input"), "takes 1 input(s), got 2"),
        ["no inputs"] = (s => NodeOf(s, "conv")["inputs"] = new JsonArray(), "takes 1 input(s), got 0"),
        ["too few inputs for add"] = (s => NodeOf(s, "add")["inputs"]!.AsArray().RemoveAt(1), "takes 2 to 8 input(s), got 1"),
        ["too many inputs for add"] = (s => NodeOf(s, "add")["inputs"] = new JsonArray(Enumerable.Range(0, 9).Select(_ => (JsonNode?)"input").ToArray()), "takes 2 to 8 input(s), got 9"),
        ["zero stages"] = (s => s["stages"] = new JsonArray(), "at least one stage is needed"),
        ["no nodes"] = (s => s["block"]!["nodes"] = new JsonArray(), "output 'out' is not a node of the block"),
        ["empty node id"] = (s => NodeOf(s, "conv")["id"] = "", "'' cannot be a node id"),
        ["empty output"] = (s => s["block"]!["output"] = "", "output '' is not a node of the block"),
        ["input given by number"] = (s => NodeOf(s, "conv")["inputs"] = new JsonArray(0), "expected a string"),
        ["format 2"] = (s => s["format"] = 2, "version 2 is not supported"),
        ["name not a string"] = (s => s["name"] = 5, "$.name: expected a string"),
        ["stage width as a string"] = (s => s["stages"]![0]!["width"] = "16", "$.stages[0].width: expected an integer"),
        ["stem kernel with a fraction"] = (s => s["stem"]!["kernel"] = 3.5, "$.stem.kernel: expected an integer"),
        ["dropout as a string"] = (s => s["head"]!["dropout"] = "0.1", "$.head.dropout: expected a number"),
        ["stages not an array"] = (s => s["stages"] = new JsonObject(), "$.stages: expected an array"),
        ["no input channels"] = (s => s["input"]!["channels"] = 0, "input channels must be at least 1"),
        ["one class"] = (s => s["input"]!["classes"] = 1, "a classifier needs at least 2 classes"),
        ["resolution above the limit"] = (s => s["input"]!["resolution"] = ArchitectureLimits.MaxResolution + 1, "the input resolution is 16,385; the limit is 16,384"),
        ["stem kernel 0"] = (s => s["stem"]!["kernel"] = 0, "stem kernel and stride must be at least 1"),
        ["stem stride above the limit"] = (s => s["stem"]!["stride"] = ArchitectureLimits.MaxStemKernel + 1, "the stem stride is 65"),
        ["stage without blocks"] = (s => s["stages"]![0]!["blocks"] = 0, "stage 0 needs at least 1 block"),
        ["stage wider than the limit"] = (s => s["stages"]![2]!["width"] = ArchitectureLimits.MaxWidth + 1, "the width of stage 2 is 65,537"),
        ["head dropout 1"] = (s => s["head"]!["dropout"] = 1, "head dropout must lie in [0, 1)"),
        ["negative head dropout"] = (s => s["head"]!["dropout"] = -0.1, "head dropout must lie in [0, 1)"),
    };

    public static TheoryData<string> MistakeNames => [.. Mistakes.Keys];

    [Theory]
    [MemberData(nameof(MistakeNames))]
    public void Schema_MistakeTheIrRejects_AlsoRejected(string mistake)
    {
        var spec = Resnet();
        Assert.Null(IrErrors(spec.ToJsonString()));
        Assert.True(SchemaAccepts(spec));
        var (mutate, error) = Mistakes[mistake];

        mutate(spec);

        var json = spec.ToJsonString();
        Assert.Contains(error, IrErrors(json) ?? "(the IR accepts it)", StringComparison.Ordinal);
        Assert.False(SchemaAccepts(json), $"the schema accepts a spec with this mistake:\n{json}");
    }

    /// <summary>Every field of every object of a spec (operator parameters aside), as a path of names and indices.</summary>
    private static IEnumerable<(List<object> Path, string Field)> Fields(JsonNode node, List<object> path)
    {
        if (node is JsonObject obj)
        {
            foreach (var (name, value) in obj)
            {
                yield return (path, name);
                if (name != "params" && value is not null)
                {
                    foreach (var inner in Fields(value, [.. path, name]))
                    {
                        yield return inner;
                    }
                }
            }
        }
        else if (node is JsonArray array)
        {
            for (var i = 0; i < array.Count; i++)
            {
                foreach (var inner in Fields(array[i]!, [.. path, i]))
                {
                    yield return inner;
                }
            }
        }
    }

    private static JsonObject At(JsonObject root, List<object> path) =>
        path.Aggregate((JsonNode)root, (node, step) => step is int i ? node[i]! : node[(string)step]!).AsObject();

    [Theory]
    [MemberData(nameof(References))]
    public void Schema_AnyFieldRemovedOrAdded_JudgedAsTheReaderJudgesIt(string name)
    {
        var spec = JsonNode.Parse(SpecJson.Write(ReferenceArchitectures.Get(name)))!.AsObject();
        var fields = Fields(spec, []).ToList();
        Assert.Contains(fields, f => f.Field == "format");
        Assert.Contains(fields, f => f.Field == "params");

        foreach (var (path, field) in fields)
        {
            var removed = spec.DeepClone().AsObject();
            At(removed, path).Remove(field);
            var json = removed.ToJsonString();
            Assert.True((ReaderError(json) is null) == SchemaAccepts(json), $"without {string.Join(".", path)}.{field}: reader says {ReaderError(json) ?? "fine"}, the schema {(SchemaAccepts(json) ? "accepts" : "rejects")}");
        }

        foreach (var path in fields.Select(f => f.Path).Distinct())
        {
            var added = spec.DeepClone().AsObject();
            At(added, path)["extra"] = 1;
            var json = added.ToJsonString();
            Assert.NotNull(ReaderError(json));
            Assert.False(SchemaAccepts(json), $"an extra field in {string.Join(".", path)} is accepted");
        }
    }

    private static JsonElement Property(JsonElement schema, params string[] path) =>
        path.Aggregate(schema, (s, name) => s.GetProperty("properties").GetProperty(name));

    private static List<string> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToList();

    [Fact]
    public void Schema_EveryOperatorAndParameter_Present()
    {
        var branches = Property(SpecSchema.Schema, "block", "nodes").GetProperty("items").GetProperty("anyOf").EnumerateArray().ToList();

        Assert.Equal(Operators.Offered.Count(), branches.Count);
        foreach (var op in Operators.Offered)
        {
            var branch = Assert.Single(branches, b => Property(b, "op").GetProperty("const").GetString() == op.Name);
            var inputs = Property(branch, "inputs");
            Assert.Equal(op.MinInputs, inputs.GetProperty("minItems").GetInt32());
            Assert.Equal(op.MaxInputs, inputs.GetProperty("maxItems").GetInt32());
            var parameters = Property(branch, "params");
            Assert.False(parameters.GetProperty("additionalProperties").GetBoolean());
            Assert.Equal(op.Params.Select(p => p.Name), parameters.GetProperty("properties").EnumerateObject().Select(p => p.Name));
            Assert.Equal(new[] { "id", "op", "inputs" }, Strings(branch.GetProperty("required")));
            foreach (var p in op.Params)
            {
                var schema = Property(parameters, p.Name);
                var type = schema.GetProperty("type").GetString();
                Assert.Equal(p.Kind switch { ParamKind.Int => "integer", ParamKind.Number => "number", ParamKind.Text => "string", _ => "boolean" }, type);
                if (p.Kind is ParamKind.Int or ParamKind.Number)
                {
                    Assert.Equal<double?>(p.Min > double.MinValue ? p.Min : null, schema.TryGetProperty("minimum", out var min) ? min.GetDouble() : null);
                    Assert.Equal<double?>(p.Max < double.MaxValue ? p.Max : null, schema.TryGetProperty("maximum", out var max) ? max.GetDouble() : null);
                }

                if (p.Choices is { } choices)
                {
                    Assert.Equal(choices, Strings(schema.GetProperty("enum")));
                }

                // The default the IR fills in is a value the schema allows.
                var node = new JsonObject { ["id"] = "n", ["op"] = op.Name, ["inputs"] = new JsonArray(Enumerable.Range(0, op.MinInputs).Select(_ => (JsonNode?)"input").ToArray()), ["params"] = new JsonObject { [p.Name] = ToJson(p.Default) } };
                var spec = Resnet();
                spec["block"]!["nodes"]!.AsArray().Add(node);
                Assert.True(SchemaAccepts(spec), $"{op.Name}.{p.Name} = {p.Default} (the default) is rejected");
            }
        }
    }

    private static JsonNode ToJson(ParamValue value) =>
        value.Number is { } n ? JsonValue.Create(n) : value.Text is { } t ? JsonValue.Create(t) : JsonValue.Create(value.Flag!.Value);

    [Fact]
    public void Schema_FieldsEnumsAndActivations_ComeFromTheIr()
    {
        var schema = SpecSchema.Schema;
        var objects = new (string[] Path, string[] Fields, string[] Optional)[]
        {
            ([], SpecJson.Fields.Root, ["format", "name"]),
            (["input"], SpecJson.Fields.Input, []),
            (["stem"], SpecJson.Fields.Stem, []),
            (["block"], SpecJson.Fields.Block, []),
            (["head"], SpecJson.Fields.Head, []),
        };
        foreach (var (path, fields, optional) in objects)
        {
            var obj = path.Length == 0 ? schema : Property(schema, path);
            Assert.Equal(fields, obj.GetProperty("properties").EnumerateObject().Select(p => p.Name));
            Assert.Equal(fields.Except(optional), Strings(obj.GetProperty("required")));
            Assert.False(obj.GetProperty("additionalProperties").GetBoolean());
        }

        var stage = Property(schema, "stages").GetProperty("items");
        Assert.Equal(SpecJson.Fields.Stage, stage.GetProperty("properties").EnumerateObject().Select(p => p.Name));
        Assert.Equal(1, Property(schema, "stages").GetProperty("minItems").GetInt32());
        Assert.Equal(Enum.GetNames<DownsampleKind>(), Strings(Property(stage, "downsample").GetProperty("enum")));
        Assert.Equal(Enum.GetNames<StemKind>(), Strings(Property(schema, "stem", "kind").GetProperty("enum")));
        string[] activations = [Operators.NoActivation, .. Operators.Activations];
        Assert.Equal(activations, Strings(Property(schema, "stem", "activation").GetProperty("enum")));
        Assert.Equal(activations, Strings(Property(schema, "head", "preActivation").GetProperty("enum")));
        Assert.Equal(SpecJson.FormatVersion, Property(schema, "format").GetProperty("const").GetInt32());
    }

    [Fact]
    public void Schema_UsesOnlyKeywordsLlamaCppConverts()
    {
        string[] known = ["type", "properties", "required", "additionalProperties", "enum", "const", "anyOf", "items", "minItems", "maxItems", "minimum", "maximum", "exclusiveMaximum", "minLength"];
        var used = new SortedSet<string>(StringComparer.Ordinal);
        void Walk(JsonElement schema)
        {
            foreach (var keyword in schema.EnumerateObject())
            {
                used.Add(keyword.Name);
                switch (keyword.Name)
                {
                    case "properties":
                        foreach (var p in keyword.Value.EnumerateObject())
                        {
                            Walk(p.Value);
                        }

                        break;
                    case "items":
                        Walk(keyword.Value);
                        break;
                    case "anyOf":
                        foreach (var branch in keyword.Value.EnumerateArray())
                        {
                            Walk(branch);
                        }

                        break;
                }
            }
        }

        Walk(SpecSchema.Schema);

        Assert.Empty(used.Except(known));
    }

    [Fact]
    public void Text_GeneratedTwice_SameBytesSortedOperatorsAndPinnedSnapshot()
    {
        var again = SpecSchema.Build().ToJsonString();

        Assert.Equal(SpecSchema.Text, again);
        Assert.Equal(SpecSchema.Text, SpecSchema.ToNode().ToJsonString());
        Assert.Equal(SpecSchema.Text, JsonSerializer.Serialize(SpecSchema.Schema));
        Assert.All(SpecSchema.Text, c => Assert.True(c is >= ' ' and <= '~', $"character {(int)c} in the schema"));
        var ops = Property(SpecSchema.Schema, "block", "nodes").GetProperty("items").GetProperty("anyOf").EnumerateArray()
            .Select(b => Property(b, "op").GetProperty("const").GetString()!).ToList();
        Assert.Equal(ops.Order(StringComparer.Ordinal), ops);
        // The schema is part of every LLM mutation's cache key: a change shows up here as a diff to review
        // (FAIRNAD_UPDATE_SNAPSHOTS=1 rewrites the file), and recorded mutation transcripts no longer replay.
        var indented = JsonSerializer.Serialize(SpecSchema.Schema, new JsonSerializerOptions { WriteIndented = true }) + "\n";
        Snapshot.Match("spec-schema.json", indented);
    }
}
