using FairNad.Search;

namespace FairNad.Experiments.Tests;

public sealed class ExperimentFileTests
{
    private static string Shipped(string name) => Path.Combine(AppContext.BaseDirectory, "experiments", $"{name}.json");

    /// <summary>The shipped quickstart with its LLM off (as its ci profile has it), so a bad value is the file's own, not its profile's.</summary>
    private static string Quickstart => File.ReadAllText(Shipped("quickstart")).Replace("\"mode\": \"auto\", \"model\": \"fairnad-scripted\"", "\"mode\": \"off\", \"model\": \"fairnad-scripted\"", StringComparison.Ordinal);

    [Theory]
    [InlineData("quickstart")]
    [InlineData("fashion-mnist")]
    [InlineData("cifar10")]
    [InlineData("cifar100")]
    [InlineData("imagenet16-120")]
    public void Load_ShippedExperiment_IsValidAndRoundTrips(string name)
    {
        var experiment = ExperimentFile.Load(Shipped(name));

        Assert.Equal(name, experiment.Name);
        Assert.Equal(experiment, ExperimentFile.Read(experiment.ToJson(), "round trip"), ExperimentComparer.Instance);
        Assert.Equal(experiment.ToJson(), ExperimentFile.Read(experiment.ToJson(), "round trip").ToJson());
    }

    [Fact]
    public void Read_LlmTimeout_RoundTripsAndStaysOutOfTheLineage()
    {
        var json = Quickstart.Replace("\"maxAttempts\": 3", "\"maxAttempts\": 3, \"timeoutSeconds\": 1200", StringComparison.Ordinal);

        var experiment = ExperimentFile.Read(json, "q.json");

        Assert.Equal(1200, experiment.Llm.TimeoutSeconds);
        Assert.Equal(experiment.ToJson(), ExperimentFile.Read(experiment.ToJson(), "round trip").ToJson());
        Assert.Contains("\"timeoutSeconds\": 1200", experiment.ToJson(), StringComparison.Ordinal);
        Assert.Equal(ExperimentFile.Read(Quickstart, "q.json").LineageJson(0), experiment.LineageJson(0));
        Assert.DoesNotContain("timeoutSeconds\": 1200", ExperimentFile.Read(Quickstart, "q.json").ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void Read_LlmContextLength_RoundTripsIntoTheLineageAndDefaultsStayOut()
    {
        var json = Quickstart.Replace("\"maxAttempts\": 3", "\"maxAttempts\": 3, \"contextLength\": 16384", StringComparison.Ordinal);

        var experiment = ExperimentFile.Read(json, "q.json");
        var plain = ExperimentFile.Read(Quickstart, "q.json");

        Assert.Equal((16384, 8192), (experiment.Llm.EffectiveContextLength, plain.Llm.EffectiveContextLength));
        Assert.Equal(experiment.ToJson(), ExperimentFile.Read(experiment.ToJson(), "round trip").ToJson());
        // It can change the answers, so it is part of what the lineage commits; the default is written nowhere, so older experiments keep their hashes.
        Assert.NotEqual(plain.LineageJson(0), experiment.LineageJson(0));
        Assert.DoesNotContain("contextLength", plain.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void Read_LlmWriteOperators_RoundTripsIntoTheLineageAndFalseIsWrittenNowhere()
    {
        var json = Quickstart.Replace("\"maxAttempts\": 3", "\"maxAttempts\": 3, \"writeOperators\": true", StringComparison.Ordinal);

        var experiment = ExperimentFile.Read(json, "q.json");
        var plain = ExperimentFile.Read(Quickstart, "q.json");

        Assert.Equal((true, false), (experiment.Llm.WriteOperators, plain.Llm.WriteOperators));
        Assert.Equal(experiment.ToJson(), ExperimentFile.Read(experiment.ToJson(), "round trip").ToJson());
        // It changes the prompt and the schema, so it is part of the lineage; false is written nowhere, so older experiments keep their hashes.
        Assert.NotEqual(plain.LineageJson(0), experiment.LineageJson(0));
        Assert.DoesNotContain("writeOperators", plain.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void Read_LlmStallTimeout_RoundTripsAndStaysOutOfTheLineage()
    {
        var json = Quickstart.Replace("\"maxAttempts\": 3", "\"maxAttempts\": 3, \"stallTimeoutSeconds\": 120", StringComparison.Ordinal);

        var experiment = ExperimentFile.Read(json, "q.json");

        Assert.Equal(120, experiment.Llm.StallTimeoutSeconds);
        Assert.Equal(experiment.ToJson(), ExperimentFile.Read(experiment.ToJson(), "round trip").ToJson());
        Assert.Contains("\"stallTimeoutSeconds\": 120", experiment.ToJson(), StringComparison.Ordinal);
        Assert.Equal(ExperimentFile.Read(Quickstart, "q.json").LineageJson(0), experiment.LineageJson(0));
        Assert.DoesNotContain("stallTimeoutSeconds", ExperimentFile.Read(Quickstart, "q.json").ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void Read_WarmWorkersFalse_RoundTripsStaysOutOfTheLineageAndTheDefaultIsWrittenNowhere()
    {
        var plain = ExperimentFile.Read(Quickstart, "q.json");
        var json = plain.ToJson().Replace("\"evaluation\": {", "\"evaluation\": {\n    \"warmWorkers\": false,", StringComparison.Ordinal);

        var cold = ExperimentFile.Read(json, "q.json");
        var explicitDefault = ExperimentFile.Read(json.Replace("\"warmWorkers\": false", "\"warmWorkers\": true", StringComparison.Ordinal), "q.json");

        Assert.Equal((true, false), (plain.Evaluation.WarmWorkers, cold.Evaluation.WarmWorkers));
        Assert.Equal(cold.ToJson(), ExperimentFile.Read(cold.ToJson(), "round trip").ToJson());
        Assert.Contains("\"warmWorkers\": false", cold.ToJson(), StringComparison.Ordinal);
        // An execution setting: the same commits either way; and experiments that do not set it keep their text and hash.
        Assert.Equal(plain.LineageJson(0), cold.LineageJson(0));
        Assert.DoesNotContain("warmWorkers", plain.ToJson(), StringComparison.Ordinal);
        Assert.Equal(plain.Hash(), explicitDefault.Hash());
    }

    [Fact]
    public void Read_UnknownField_NamesFileAndField()
    {
        var json = Quickstart.Replace("\"population\"", "\"populaton\"", StringComparison.Ordinal);

        var e = Assert.Throws<ExperimentException>(() => ExperimentFile.Read(json, "experiments/typo.json"));

        Assert.StartsWith("experiments/typo.json: populaton: unknown field", e.Message);
    }

    [Theory]
    [InlineData("\"dataset\": \"fashion-mnist\"", "\"dataset\": \"mnist\"", "dataset: 'mnist' is not one of")]
    [InlineData("\"population\": 8", "\"population\": 1", "population: must be at least 2")]
    [InlineData("\"population\": 8", "\"population\": \"eight\"", "population: must be a whole number")]
    [InlineData("\"epochs\": 1", "\"epochs\": 0", "fidelity: epochs must be at least 1")]
    [InlineData("\"vit\"", "\"vgg\"", "references: 'vgg' is not one of")]
    [InlineData("\"strategy\": \"fairnad\"", "\"strategy\": \"darts\"", "strategy: 'darts' is not one of")]
    [InlineData("\"fairIdea\": 0.4, \"pareto\": 0.3, \"llm\": 0.3", "\"fairIdea\": 0, \"pareto\": 0, \"llm\": 1", "mutation: every mutation type with a share is disabled")]
    [InlineData("\"isolated\": true", "\"isolated\": false", "evaluation.jobs: more than one job needs isolated workers")]
    [InlineData("\"mode\": \"off\"", "\"mode\": \"sometimes\"", "llm.mode: 'sometimes' is not one of")]
    [InlineData("\"maxAttempts\": 3", "\"maxAttempts\": 3, \"timeoutSeconds\": 0", "llm.timeoutSeconds: must be a number of seconds above 0 and at most 86400")]
    [InlineData("\"maxAttempts\": 3", "\"maxAttempts\": 3, \"timeoutSeconds\": \"long\"", "llm.timeoutSeconds: must be a number")]
    [InlineData("\"maxAttempts\": 3", "\"maxAttempts\": 3, \"contextLength\": 256", "llm.contextLength: must be a number of tokens from 512 to 1048576")]
    [InlineData("\"maxAttempts\": 3", "\"maxAttempts\": 3, \"contextLength\": 8192.5", "llm.contextLength: must be a whole number")]
    [InlineData("\"maxAttempts\": 3", "\"maxAttempts\": 3, \"stallTimeoutSeconds\": -1", "llm.stallTimeoutSeconds: must be a number of seconds above 0 and at most 86400")]
    [InlineData("\"maxAttempts\": 3", "\"maxAttempts\": 3, \"stallTimeoutSeconds\": \"soon\"", "llm.stallTimeoutSeconds: must be a number")]
    [InlineData("\"maxAttempts\": 3", "\"maxAttempts\": 3, \"timeoutSeconds\": 100, \"stallTimeoutSeconds\": 200", "llm.stallTimeoutSeconds: must not exceed llm.timeoutSeconds (100 s)")]
    public void Read_BadValue_NamesFieldAndReason(string from, string to, string expected)
    {
        Assert.Contains(from, Quickstart, StringComparison.Ordinal);

        var e = Assert.Throws<ExperimentException>(() => ExperimentFile.Read(Quickstart.Replace(from, to, StringComparison.Ordinal), "q.json"));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.StartsWith("q.json: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_NotJson_SaysSo()
    {
        var e = Assert.Throws<ExperimentException>(() => ExperimentFile.Read("{ \"schema\": ", "broken.json"));

        Assert.StartsWith("broken.json: not valid JSON", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Overrides_Apply_ReplaceOnlyTheGivenFields()
    {
        var experiment = ExperimentFile.Read(Quickstart, "q");

        var changed = new ExperimentOverrides(Seed: 7, Candidates: 3, Strategy: "rea", LlmMode: "auto", Jobs: 1).Apply(experiment);

        Assert.Equal([7], changed.Seeds);
        Assert.Equal((3, "rea", "auto", 1), (changed.Candidates, changed.Strategy, changed.Llm.Mode, changed.Evaluation.Jobs));
        Assert.Equal(experiment.Fidelity, changed.Fidelity);
        Assert.NotEqual(experiment.Hash(), changed.Hash());
    }

    [Fact]
    public void DisabledMutations_LlmOff_ShareRedistributedProportionally()
    {
        var experiment = ExperimentFile.Read(Quickstart, "q");

        var mix = experiment.Mutation.Effective(experiment.DisabledMutations);

        Assert.Equal([MutationTypes.Llm], experiment.DisabledMutations);
        Assert.Equal(0, mix.Llm);
        Assert.Equal(0.4 / 0.7, mix.FairIdea, 12);
        Assert.Equal(0.3 / 0.7, mix.Pareto, 12);
    }

    [Fact]
    public void DisabledMutations_Ablation_RemovesThatType()
    {
        var experiment = ExperimentFile.Read(Quickstart, "q") with { Strategy = "fairnad-no-pareto", Llm = new LlmOptions("auto", "m", 3) };

        Assert.Equal([MutationTypes.Pareto], experiment.DisabledMutations);
        Assert.Equal(0.4 / 0.7, experiment.Mutation.Effective(experiment.DisabledMutations).FairIdea, 12);
    }

    /// <summary>Records holding lists compare by reference; compare experiments by their canonical text.</summary>
    private sealed class ExperimentComparer : IEqualityComparer<Experiment>
    {
        public static readonly ExperimentComparer Instance = new();

        public bool Equals(Experiment? x, Experiment? y) => x?.ToJson() == y?.ToJson();

        public int GetHashCode(Experiment obj) => obj.ToJson().GetHashCode(StringComparison.Ordinal);
    }
}
