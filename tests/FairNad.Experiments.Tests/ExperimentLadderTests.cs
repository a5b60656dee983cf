namespace FairNad.Experiments.Tests;

public sealed class ExperimentLadderTests
{
    /// <summary>The quickstart without its own ladder, so each test adds the one it is about.</summary>
    private static string Quickstart => System.Text.RegularExpressions.Regex.Replace(
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "experiments", "quickstart.json")), "(?m)^  \"ladder\": .*\n", string.Empty);

    /// <summary>The quickstart with <paramref name="field"/> added at the top level (before its first "parameterBudget"; its ci profile has one too).</summary>
    private static string WithField(string field)
    {
        var text = Quickstart;
        var at = text.IndexOf("\"parameterBudget\"", StringComparison.Ordinal);
        return text[..at] + field + ",\n  " + text[at..];
    }

    [Fact]
    public void Read_Ladder_RoundTripsIntoTheLineageAndRungsOverrideEpochsAndImages()
    {
        var experiment = ExperimentFile.Read(WithField("\"ladder\": {\"rungs\": [{\"epochs\": 1, \"trainSubset\": 500}, {\"epochs\": 3}], \"promote\": 0.34}, \"noise\": {\"architectures\": 2, \"seeds\": 1}"), "q.json");

        Assert.Equal(2, experiment.RungCount);
        Assert.Equal((1, 500), (experiment.FidelityAt(0).Epochs, experiment.FidelityAt(0).TrainSubset!.Value));
        Assert.Equal(3, experiment.FidelityAt(1).Epochs);
        Assert.Null(experiment.FidelityAt(1).TrainSubset);
        Assert.Equal(experiment.Fidelity.BatchSize, experiment.FidelityAt(1).BatchSize);
        Assert.Equal(experiment.ToJson(), ExperimentFile.Read(experiment.ToJson(), "round trip").ToJson());
        Assert.Contains("\"promote\": 0.34", experiment.LineageJson(0), StringComparison.Ordinal);
        Assert.NotEqual(ExperimentFile.Read(Quickstart, "q.json").Hash(), experiment.Hash());
    }

    [Theory]
    [InlineData("\"ladder\": {\"rungs\": [{\"epochs\": 1}], \"promote\": 0.5}", "ladder: rungs: give at least two rungs")]
    [InlineData("\"ladder\": {\"rungs\": [{\"epochs\": 2}, {\"epochs\": 1}], \"promote\": 0.5}", "ladder: rungs[1]: each rung must train at least as many epochs")]
    [InlineData("\"ladder\": {\"rungs\": [{\"epochs\": 1}, {\"epochs\": 2}], \"promote\": 1}", "ladder: promote: the promoted fraction must be above 0 and below 1")]
    [InlineData("\"ladder\": {\"rungs\": [{\"epochs\": 1}, {\"epochs\": 0}], \"promote\": 0.5}", "ladder: rungs[1]: epochs must be at least 1")]
    [InlineData("\"ladder\": {\"rungs\": [{\"epoch\": 1}, {\"epochs\": 2}], \"promote\": 0.5}", "ladder.rungs[0].epoch: unknown field")]
    [InlineData("\"ladder\": {\"rungs\": [{\"epochs\": 1}, {\"epochs\": 2}]}", "ladder.promote: missing")]
    [InlineData("\"noise\": {\"architectures\": 9, \"seeds\": 1}", "noise: architectures: 9 is more than the")]
    [InlineData("\"noise\": {\"architectures\": 1, \"seeds\": 0}", "noise: architectures and seeds must each be at least 1")]
    public void Read_BadLadderOrNoise_NamesFileAndField(string field, string expected)
    {
        var e = Assert.Throws<ExperimentException>(() => ExperimentFile.Read(WithField(field), "q.json"));

        Assert.StartsWith("q.json: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_EpochsToALadderedExperiment_RefusedNamingTheOption()
    {
        var laddered = ExperimentFile.Read(WithField("\"ladder\": {\"rungs\": [{\"epochs\": 1}, {\"epochs\": 2}], \"promote\": 0.5}"), "q.json");

        var e = Assert.Throws<ExperimentException>(() => new ExperimentOverrides(Epochs: 4).Apply(laddered));

        Assert.StartsWith("--epochs: the experiment has a fidelity ladder", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, new ExperimentOverrides(Candidates: 3).Apply(laddered).FidelityAt(1).Epochs);
    }
}
