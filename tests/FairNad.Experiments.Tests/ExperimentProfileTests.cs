using System.Text.Json.Nodes;

namespace FairNad.Experiments.Tests;

/// <summary>Fidelity presets ("profiles") of experiment files: how --profile applies one, and what a file may and may not put in one.</summary>
public sealed class ExperimentProfileTests
{
    public static TheoryData<string> ShippedExperiments => ["quickstart", "fashion-mnist", "cifar10", "cifar100", "imagenet16-120"];

    private static string Shipped(string name) => Path.Combine(AppContext.BaseDirectory, "experiments", $"{name}.json");

    private static string Cifar100 => File.ReadAllText(Shipped("cifar100"));

    /// <summary>The shipped file with its "profiles" table removed: what the file was before profiles existed.</summary>
    private static string WithoutProfiles(string json)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        node.Remove("profiles");
        return node.ToJsonString();
    }

    private static string WithCiProfile(string profile)
    {
        var node = JsonNode.Parse(WithoutProfiles(Cifar100))!.AsObject();
        node["profiles"] = new JsonObject { ["ci"] = JsonNode.Parse(profile) };
        return node.ToJsonString();
    }

    [Theory]
    [MemberData(nameof(ShippedExperiments))]
    public void Load_ShippedCiProfile_SameSearchAtSmokeFidelityOnTheCpu(string name)
    {
        var full = ExperimentFile.Load(Shipped(name));

        var ci = ExperimentFile.Load(Shipped(name), "ci");

        Assert.Equal("ci", ci.Profile);
        Assert.Equal((full.Dataset, full.Strategy, full.Mutation, full.CostObjective), (ci.Dataset, ci.Strategy, ci.Mutation, ci.CostObjective));
        Assert.Equal(("cpu", 1, "0"), (ci.Fidelity.Device, ci.Fidelity.Epochs, string.Join(",", ci.Seeds)));
        Assert.InRange(ci.Candidates, ci.References.Count + 1, 10);
        Assert.NotNull(ci.Fidelity.TrainSubset);
        Assert.Equal($"{name}-ci-fairnad-s0", ci.RunName(0));
    }

    [Theory]
    [MemberData(nameof(ShippedExperiments))]
    public void Load_ShippedExperimentWithoutProfile_HashAsIfTheFileHadNoProfiles(string name)
    {
        var plain = ExperimentFile.Load(Shipped(name));

        Assert.Null(plain.Profile);
        Assert.Equal(ExperimentFile.Read(WithoutProfiles(File.ReadAllText(Shipped(name))), "before").Hash(), plain.Hash());
        Assert.DoesNotContain("profile", plain.ToJson(), StringComparison.Ordinal);
        Assert.Equal($"{name}-fairnad-s0", plain.RunName(0));
    }

    [Fact]
    public void Read_AppliedProfile_RecordedCopyRoundTripsWithTheProfileAndItsHash()
    {
        var ci = ExperimentFile.Read(Cifar100, "cifar100.json", "ci");

        var copy = ExperimentFile.Read(ci.ToJson(), "experiment.json");

        Assert.Equal("ci", copy.Profile);
        Assert.Equal(ci.Hash(), copy.Hash());
        Assert.NotEqual(ExperimentFile.Read(Cifar100, "cifar100.json").Hash(), ci.Hash());
        Assert.Contains("\"profile\": \"ci\"", ci.LineageJson(0), StringComparison.Ordinal);
    }

    [Fact]
    public void Read_ProfileObjects_MergeFieldByFieldOverTheFile()
    {
        var ci = ExperimentFile.Read(WithCiProfile("""{ "fidelity": { "epochs": 2, "device": "cpu" }, "llm": { "mode": "off" } }"""), "c.json", "ci");

        Assert.Equal((2, "cpu", 256, 0.1), (ci.Fidelity.Epochs, ci.Fidelity.Device, ci.Fidelity.BatchSize, ci.Fidelity.LearningRate));
        Assert.Equal(("off", "qwen2.5:7b-instruct"), (ci.Llm.Mode, ci.Llm.Model));
        Assert.Equal(100, ci.Candidates);
    }

    [Fact]
    public void Read_UnknownProfile_ErrorListsTheFilesProfiles()
    {
        var error = Assert.Throws<ExperimentException>(() => ExperimentFile.Read(Cifar100, "cifar100.json", "smoke"));

        Assert.Equal("cifar100.json: no profile 'smoke'; the file's profiles are ci", error.Message);
    }

    [Fact]
    public void Read_ProfileOfAFileWithoutProfiles_SaysTheFileHasNone()
    {
        var error = Assert.Throws<ExperimentException>(() => ExperimentFile.Read(WithoutProfiles(Cifar100), "c.json", "ci"));

        Assert.Equal("c.json: no profile 'ci': the file has no \"profiles\" table", error.Message);
    }

    [Theory]
    [InlineData("""{ "strategy": "random" }""", "c.json: profiles.ci.strategy: a profile may set only")]
    [InlineData("""{ "dataset": "cifar10" }""", "c.json: profiles.ci.dataset: a profile may set only")]
    [InlineData("""{ "fidelity": { "epoch": 1 } }""", "c.json (profile ci): fidelity.epoch: unknown field")]
    [InlineData("""{ "fidelity": { "epochs": 0 } }""", "c.json (profile ci): fidelity: ")]
    [InlineData("""[1]""", "c.json: profiles.ci: must be an object")]
    public void Read_BadProfile_FailsEvenUnaskedNamingProfileAndField(string profile, string expected)
    {
        var json = WithCiProfile(profile);

        var error = Assert.Throws<ExperimentException>(() => ExperimentFile.Read(json, "c.json"));

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_BadProfileName_IsRejected()
    {
        var node = JsonNode.Parse(Cifar100)!.AsObject();
        node["profiles"]!.AsObject()["c i/x"] = new JsonObject();

        var error = Assert.Throws<ExperimentException>(() => ExperimentFile.Read(node.ToJsonString(), "c.json"));

        Assert.StartsWith("c.json: profiles.c i/x: use 1 to 32 letters, digits", error.Message, StringComparison.Ordinal);
    }
}
