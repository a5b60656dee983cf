using System.Globalization;
using System.Text;
using FairNad.Architecture.Models;

namespace FairNad.Lineage;

/// <summary>The README committed with each candidate and each run root. Deterministic: it becomes part of the commit id.</summary>
internal static class CandidateReadme
{
    /// <summary>The README of a candidate's commit in lineage layout <paramref name="format"/> (2 and later say how to build and check it on its own).</summary>
    public static string ForCandidate(string run, string candidateId, CandidateEntry entry, NetworkPlan plan, int format = LineageLayout.FormatVersion)
    {
        var spec = plan.Canonical;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"# Candidate {candidateId[..12]} of run {run}\n\n");
        text.Append(CultureInfo.InvariantCulture, $"- Candidate id: `{candidateId}` (SHA-256 of the canonical `{LineageLayout.SpecFile}`)\n");
        text.Append(CultureInfo.InvariantCulture, $"- Position in the run: {entry.Index}\n");
        text.Append(CultureInfo.InvariantCulture, $"- Mutation: {entry.MutationType}{(entry.Attribute is null ? string.Empty : $", attribute `{entry.Attribute}`")}\n");
        text.Append(entry.Parents.Count == 0
            ? "- Parents: none (a seed architecture; the parent commit is the run's root)\n"
            : $"- Parents: {string.Join(", ", entry.Parents.Select(p => $"`{p[..12]}`"))}\n");
        if (entry.Transcript is not null)
        {
            text.Append(CultureInfo.InvariantCulture, $"- LLM transcript: `{entry.Transcript}`\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"- Input: {spec.Input.Channels} x {spec.Input.Resolution} x {spec.Input.Resolution}, {spec.Input.Classes} classes\n");
        static string Describe(FairNad.Architecture.BlockSpec block) => $"{block.Nodes.Count} nodes ({string.Join(", ", block.Nodes.Select(n => n.Op).Distinct())})";
        var blocks = spec.HasStageBlocks
            ? "blocks per stage: " + string.Join(" / ", spec.Stages.Select((_, s) => Describe(spec.BlockOf(s))))
            : $"block of {Describe(spec.Block)}";
        text.Append(CultureInfo.InvariantCulture, $"- Macro: {spec.Stem.Kind} stem, stages {string.Join(" / ", spec.Stages.Select(s => $"{s.Blocks} x {s.Width}"))}, {blocks}\n");
        text.Append(CultureInfo.InvariantCulture, $"- Parameters: {plan.Analysis.Parameters:N0}; multiply-accumulates per sample: {plan.Analysis.Macs:N0}\n\n");
        text.Append(entry.Summary.ReplaceLineEndings(" ").Trim()).Append("\n\n");
        text.Append("Metrics live in a git note, so this commit's id depends only on the architecture and its lineage:\n\n");
        text.Append(CultureInfo.InvariantCulture, $"    git notes --ref fairnad/{run} show fairnad/{run}/{candidateId}\n\n");
        text.Append("Rebuild the model from the spec, check that the generated code agrees with it, and run a forward pass:\n\n");
        text.Append(CultureInfo.InvariantCulture, $"    fairnad arch build {LineageLayout.SpecFile} --generated\n\n");
        text.Append(CultureInfo.InvariantCulture, $"`{LineageLayout.CodeFile}` is generated from the spec (`fairnad arch codegen {LineageLayout.SpecFile}` regenerates it byte for byte).\n");
        if (format >= 2)
        {
            text.Append("\nThe commit is also a project of its own: no FairNad needed, only the .NET 10 SDK and NuGet's ");
            text.Append(CultureInfo.InvariantCulture, $"TorchSharp {CandidateProject.TorchSharpVersion} and {CandidateProject.LibTorchPackage} {CandidateProject.LibTorchVersion} (from the local package cache when there). ");
            text.Append("`check` builds the network, runs a forward and a backward pass on the input shape of ");
            text.Append(CultureInfo.InvariantCulture, $"`{LineageLayout.SpecFile}` and compares the parameter count with `{CandidateProject.CheckFile}`:\n\n");
            text.Append(CultureInfo.InvariantCulture, $"    git worktree add ../candidate-{candidateId[..12]} fairnad/{run}/{candidateId}\n");
            text.Append(CultureInfo.InvariantCulture, $"    cd ../candidate-{candidateId[..12]}\n");
            text.Append("    dotnet build\n");
            text.Append("    dotnet run -- check\n");
        }

        return text.ToString();
    }

    public static string ForRun(RunManifest manifest) =>
        $"# FairNad run {manifest.Run}\n\n" +
        $"The root of the run's lineage: every seed architecture's commit has this commit as its parent.\n\n" +
        $"- Experiment: `{manifest.ExperimentPath}` (as it was when the run started, included here)\n" +
        $"- Seed: {manifest.Seed.ToString(CultureInfo.InvariantCulture)}\n" +
        $"- Knowledge: {(manifest.KnowledgeContent is null ? "none" : "`knowledge/attribute-tree.json` (the attribute tree the search used)")}\n\n" +
        $"List the run's candidates with `git branch --list 'fairnad/{manifest.Run}/*'` or `fairnad lineage list --run {manifest.Run}`.\n";
}
