using System.Text.Json;
using FairNad.Architecture;
using FairNad.Architecture.Models;

namespace FairNad.Cli.Tests;

using static Cli;

public sealed class ArchCommandTests : IDisposable
{
    private const string AllConv3x3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|";

    private readonly string _directory = Directory.CreateTempSubdirectory("fairnad-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string WriteSpec(ArchitectureSpec spec, string name)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, SpecJson.Write(spec));
        return path;
    }

    [Fact]
    public void Hash_Nb201String_PrintsTheCandidateId()
    {
        var (code, output, _) = Run("arch", "hash", AllConv3x3, "--dataset", "cifar100");

        Assert.Equal(0, code);
        Assert.Equal(Nb201.ToSpec(AllConv3x3, Nb201.InputFor("cifar100")).Id + "\n", output.Replace("\r\n", "\n"));
    }

    [Fact]
    public void Analyze_Json_ReportsNb201PublishedParameterCount()
    {
        var (code, output, _) = Run("arch", "analyze", AllConv3x3, "--json");

        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(1_531_546, json.RootElement.GetProperty("parameters").GetInt64());
        Assert.Equal(3, json.RootElement.GetProperty("stages").GetArrayLength());
        Assert.Equal("[64,8,8]", json.RootElement.GetProperty("stages")[2].GetProperty("shapes").GetProperty("node3").GetString());
    }

    [Fact]
    public void Analyze_Text_ListsEveryNodeWithItsShape()
    {
        var (code, output, _) = Run("arch", "analyze", "shufflenetv2");

        Assert.Equal(0, code);
        Assert.Contains("parameters  ", output);
        Assert.Matches(@"join\s+concat\s+keep, act3\s+-> \[96,8,8\]", output);
    }

    [Fact]
    public void Validate_BrokenSpecFile_ExitsOneNamingNodeAndRule()
    {
        var spec = ReferenceArchitectures.Get("resnet");
        var nodes = spec.Block.Nodes.Select(n => n.Id == "c2" ? n.With("stride", 2) : n).ToList();
        var path = WriteSpec(spec with { Block = spec.Block with { Nodes = nodes } }, "broken.json");

        var (code, output, _) = Run("arch", "validate", path);

        Assert.Equal(1, code);
        Assert.Contains("node 'sum' (add): input shapes [16,16,16] and [16,32,32] differ in spatial size", output);
        Assert.Contains("shape-mismatch", output);
    }

    [Fact]
    public void Validate_ValidReference_ExitsZero()
    {
        var (code, output, _) = Run("arch", "validate", "convnext", "--json");

        Assert.Equal(0, code);
        Assert.True(JsonDocument.Parse(output).RootElement.GetProperty("valid").GetBoolean());
    }

    [Fact]
    public void Validate_MalformedJson_ExitsTwoNamingFileAndField()
    {
        var path = Path.Combine(_directory, "bad.json");
        File.WriteAllText(path, SpecJson.Write(ReferenceArchitectures.Get("resnet")).Replace("\"width\": 16", "\"width\": \"wide\""));

        var (code, _, error) = Run("arch", "show", path);

        Assert.Equal(2, code);
        Assert.Contains(path, error);
        Assert.Contains("width", error);
    }

    [Fact]
    public void Show_UnknownArchitecture_ExitsTwoListingWhatIsAccepted()
    {
        var (code, _, error) = Run("arch", "show", "lenet5");

        Assert.Equal(2, code);
        Assert.Contains("is not a spec file, a NAS-Bench-201 cell string", error);
        Assert.Contains("mobilenetv2", error);
    }

    [Fact]
    public void Show_Canonical_SameTextForRenamedSpec()
    {
        var spec = ReferenceArchitectures.Get("se_resnet");
        var renamed = spec with { Name = "other", Block = new BlockSpec(spec.Block.Nodes.Reverse().ToList(), spec.Block.Output) };

        var a = Run("arch", "show", "--canonical", WriteSpec(spec, "a.json"));
        var b = Run("arch", "show", "--canonical", WriteSpec(renamed, "b.json"));

        Assert.Equal(0, a.Code);
        Assert.Equal(a.Output, b.Output);
        Assert.DoesNotContain("\"name\"", a.Output);
    }

    [Fact]
    public void Codegen_Out_WritesTheWritersBytes()
    {
        var path = Path.Combine(_directory, "Network.cs");

        var (code, output, _) = Run("arch", "codegen", "mlp_mixer", "--out", path);

        Assert.Equal(0, code);
        Assert.Contains(ReferenceArchitectures.Get("mlp_mixer").Id, output);
        Assert.Equal(TorchSharpCodeWriter.Write(ReferenceArchitectures.Get("mlp_mixer")), File.ReadAllText(path));
    }

    [Fact]
    public void Scale_Budget_PrintsSpecWithinBudget()
    {
        var (code, output, error) = Run("arch", "scale", "resnet", "--params", "500000");

        Assert.Equal(0, code);
        var scaled = SpecJson.Read(output, "stdout");
        Assert.InRange(ArchitectureAnalyzer.Analyze(scaled).Parameters, 490_000, 500_000);
        Assert.Contains("of 500,000", error);
    }

    [Fact]
    public void Validate_BillionChannels_ExitsOneNamingTheFieldAndLimit()
    {
        var spec = ReferenceArchitectures.Get("resnet");
        var path = WriteSpec(spec with { Stem = spec.Stem with { Channels = 1_000_000_000 }, Stages = spec.Stages.Select(s => s with { Width = 1_000_000_000 }).ToList() }, "huge.json");

        var (code, output, _) = Run("arch", "analyze", path);

        Assert.Equal(1, code);
        Assert.Contains("stages[0].width: too-large: stages[0].width: the width of stage 0 is 1,000,000,000; the limit is 65,536", output);
        Assert.DoesNotContain("parameters", output);
    }

    [Fact]
    public void References_ListsEveryReference()
    {
        var (code, output, _) = Run("arch", "references", "--dataset", "fashion-mnist");

        Assert.Equal(0, code);
        Assert.All(ReferenceArchitectures.Names, n => Assert.Contains(n, output));
    }

    [Fact]
    public void Build_Generated_BothPathsAgree()
    {
        var (code, output, error) = Run("arch", "build", "se_resnet", "--generated", "--seed", "3");

        Assert.True(code == 0, output + error);
        Assert.Contains("identical outputs from both paths", output);
        Assert.Matches(@"generated   [\d,]+ parameters \(analytic [\d,]+\), compiled in \d+ ms", output);
        Assert.Matches(@"interpreted [\d,]+ parameters \(analytic [\d,]+\), built in", output);
    }

    [Fact]
    public void Run_UnknownCommand_ExitsTwo()
    {
        var (code, _, error) = Run("arch", "explode", "resnet");

        Assert.Equal(2, code);
        Assert.Contains("fairnad --help", error);
    }

    [Fact]
    public void BenchModels_SmallTable_PrintsPhasesAndAgreement()
    {
        var table = Path.Combine(_directory, "nb201.csv");
        File.WriteAllText(table, "file id,arch str,cfg name\n" + string.Join("\n", new[]
        {
            AllConv3x3,
            "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
        }.Select((a, i) => $"{i},{a},infer.tiny")) + "\n");

        var (code, output, error) = Run("bench", "models", table, "--compile", "2");

        Assert.True(code == 0, output + error);
        Assert.Contains("3 cell strings", output);
        Assert.Contains("parameters  73,306", output);
        Assert.Contains("1,531,546", output);
        Assert.Contains("identical for 2/2 cells", output);
    }
}
