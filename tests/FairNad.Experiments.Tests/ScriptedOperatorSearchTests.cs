using System.Text.Json;
using FairNad.Architecture;
using FairNad.Lineage;
using FairNad.Llm;
using FairNad.Search;
using FairNad.Tests.Shared;
using LibGit2Sharp;

namespace FairNad.Experiments.Tests;

/// <summary>
/// LLM-written operators against scripted LLMs: the built-in scripted designer (llm.writeOperators) introduces an operator
/// that trains, lands in its candidate's commit and reproduces offline; a scripted server whose answers are hostile, of
/// the wrong shape and looping has each rejected, fed back and repaired while the run goes on.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ScriptedOperatorSearchTests : IDisposable
{
    private readonly SearchFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public async Task Run_ScriptedDesignerWritesOperator_TrainedCommittedAndReproducedOffline()
    {
        _fixture.Write(SearchFixture.Tiny with
        {
            Mutation = new MutationMix(0, 0, 1),
            Candidates = 6,
            Llm = new LlmOptions("auto", LlmSettings.ScriptedModel, 3, WriteOperators: true),
            Evaluation = new EvaluationOptions(2, true, 300, 4096),
        });

        var live = SearchFixture.Run(_fixture.Request(train: true)).Single();

        // At least one mutation wrote an operator of the designer's library; every candidate that uses one trained, and
        // its commit's tree holds each operator source it uses, byte for byte as the run's store has it.
        var store = new OperatorStore(Path.Combine(live.RunDirectory, OperatorSources.Folder));
        var written = 0;
        using (var git = new Repository(_fixture.Root))
        {
            foreach (var candidate in live.Candidates.Where(c => c.MutationType == MutationTypes.Llm))
            {
                var commit = git.Lookup<Commit>(candidate.Commit);
                var spec = SpecJson.Read(((Blob)commit[LineageLayout.SpecFile].Target).GetContentText(), candidate.Candidate);
                var references = OperatorSources.References(spec).ToList();
                if (references.Count == 0)
                {
                    continue;
                }

                written++;
                Assert.True(candidate.Status == "ok", $"{candidate.Candidate}: {candidate.Status} {candidate.FailureCategory}");
                Assert.True(candidate.Validation is { } v && double.IsFinite(v) && v > 0, $"{candidate.Candidate}: validation {candidate.Validation}");
                foreach (var reference in references)
                {
                    var blob = Assert.IsType<Blob>(commit[$"{OperatorSources.Folder}/{OperatorSources.FileName(reference)}"]?.Target);
                    Assert.Equal(store.Get(reference), blob.GetContentText());
                    Assert.Contains(ScriptedOperators.All, o => o.Source == blob.GetContentText());
                }
            }
        }

        Assert.True(written > 0, "no mutation wrote an operator");

        // Reproduce: the run again from its record, the LLM replayed (no designer asked), trained again: same ids, commits and metrics.
        var report = await Reproduction.RunAsync(_fixture.Results, live.Run, WorkerCommand.ForAssembly(Path.Combine(AppContext.BaseDirectory, "fairnad.dll")), null);

        Assert.True(report.Passed, string.Join("\n", report.Differences));
        Assert.Equal(live.AllEvaluations.Count, report.Compared);
    }

    /// <summary>
    /// A scripted LLM whose every conversation goes: an operator that deletes a file (the sandbox rejects it), one that
    /// returns twice the channels (verification rejects the shape), one that never finishes its forward pass (the
    /// verification worker is stopped at its time limit), then a ghost module; each is a residual branch on the block.
    /// </summary>
    private static string Faulty(JsonElement request)
    {
        var messages = request.GetProperty("messages").EnumerateArray().ToList();
        var first = messages.First(m => m.GetProperty("role").GetString() == "user").GetProperty("content").GetString()!;
        var json = first[(first.IndexOf("```json\n", StringComparison.Ordinal) + 8)..];
        var parent = SpecJson.Read(json[..json.IndexOf("```", StringComparison.Ordinal)], "prompt");
        var last = messages[^1].GetProperty("content").GetString()!;
        var source = !last.Contains("That answer is invalid", StringComparison.Ordinal) ? WrittenOperators.DeletesFile
            : !last.Contains("the contract needs", StringComparison.Ordinal) ? WrittenOperators.WrongChannels
            : !last.Contains("was stopped", StringComparison.Ordinal) ? WrittenOperators.LoopsInForward
            : WrittenOperators.Ghost;
        var (output, n) = (parent.Block.Output, parent.Block.Nodes.Count);
        var child = parent with
        {
            Block = new BlockSpec(
                [.. parent.Block.Nodes, new NodeSpec($"written{n}", "custom", output).With("source", "operators[0]"), new NodeSpec($"written_sum{n}", "add", $"written{n}", output)],
                $"written_sum{n}"),
        };
        return JsonSerializer.Serialize(new { summary = "added a written operator as a residual branch", architecture = JsonDocument.Parse(SpecJson.Write(child)).RootElement, operators = new[] { new { source } } });
    }

    [Fact]
    public void Run_HostileWrongShapeAndLoopingAnswers_EachRejectedFedBackRepairedAndRunGoesOn()
    {
        // The evaluation timeout bounds verification (min(timeout, 120 s)): 30 s stops the looping operator quickly.
        _fixture.Write(SearchFixture.Tiny with
        {
            Mutation = new MutationMix(0, 0, 1),
            Candidates = 5,
            Llm = new LlmOptions("auto", "test-model", 4, WriteOperators: true),
            Evaluation = new EvaluationOptions(1, true, 30, 4096),
        });
        SearchOutcome outcome;
        List<string> repairs;
        using (var server = new ScriptedOllamaServer(Faulty))
        {
            outcome = SearchFixture.Run(_fixture.Request(new ExperimentOverrides(LlmMode: "auto", LlmModel: "test-model"), llmServer: server.Uri.ToString())).Single();
            repairs = [.. server.ChatRequests.Select(r => r.GetProperty("messages").EnumerateArray().Last().GetProperty("content").GetString()!)
                .Where(m => m.Contains("That answer is invalid", StringComparison.Ordinal))];
        }

        // Hostile: the sandbox's rejection, with its line, went back to the LLM; wrong shape: the contract; looping: the time limit.
        Assert.Contains(repairs, m => m.Contains("FNSANDBOX", StringComparison.Ordinal) && m.Contains("line 13", StringComparison.Ordinal));
        Assert.Contains(repairs, m => m.Contains("the contract needs", StringComparison.Ordinal));
        Assert.Contains(repairs, m => m.Contains("ran longer than 30 s and was stopped", StringComparison.Ordinal));

        // Repaired: the ghost module is the candidate, the rejected sources never reached the run's store, and the run went on to its budget.
        var mutated = Assert.Single(outcome.Candidates, c => c.MutationType == MutationTypes.Llm);
        Assert.Equal("ok", mutated.Status);
        Assert.Equal(5, outcome.Candidates.Count);
        var store = new OperatorStore(Path.Combine(outcome.RunDirectory, OperatorSources.Folder));
        Assert.True(store.Contains(OperatorSources.Hash(WrittenOperators.Ghost)));
        Assert.All(new[] { WrittenOperators.DeletesFile, WrittenOperators.WrongChannels, WrittenOperators.LoopsInForward },
            s => Assert.False(store.Contains(OperatorSources.Hash(s))));
        var exchange = Assert.Single(Directory.GetFiles(Path.Combine(outcome.RunDirectory, "llm"), "exchange-*.json"), f => File.ReadAllText(f).Contains("ForwardSpinner", StringComparison.Ordinal) && File.ReadAllText(f).Contains("was stopped", StringComparison.Ordinal));
        Assert.Contains("FNSANDBOX", File.ReadAllText(exchange), StringComparison.Ordinal);
    }
}
