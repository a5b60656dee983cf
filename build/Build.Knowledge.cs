using FairNad.Build.Engine;

internal sealed partial class Build
{
    [Parameter("LLM mode: off, auto (replay recorded exchanges, ask Ollama for new ones), live or replay; or ollama:<model>; or scripted (FairNad's rule-based stand-in designer, in-process, no model needed: auto with model fairnad-scripted); default the experiment's. Extract: default auto.")]
    [SearchOption]
    readonly string? Llm;

    [Parameter("Ollama model for any LLM mode, e.g. qwen2.5:7b-instruct (same as --llm ollama:<model> but combinable with live, replay and auto); default the experiment's. Extract: default qwen2.5:7b-instruct; it names the output folder.")]
    [SearchOption]
    readonly string? LlmModel;

    [Parameter("Go on when the Ollama server's model (name or digest) differs from the one the run's transcripts were recorded with; the manifest records the change. Extract: the same for knowledge/extracted/<model>/transcripts.")]
    [SearchOption]
    readonly bool? LlmAllowModelChange;

    [Parameter("Ollama server URL (default: OLLAMA_HOST, else http://localhost:11434).")]
    [SearchOption]
    readonly string? OllamaHost;

    Target Extract => _ => _
        .Description("Extracts an attribute tree from the neutral reference descriptions (knowledge/references/neutral) with the LLM into knowledge/extracted/<model>/attribute-tree.json, which ./build.sh Search --tree takes (every exchange recorded; --llm replay needs no network).")
        .DependsOn(Restore)
        .Executes(() => Fairnad(["knowledge", "extract", "--llm", Llm ?? "auto", "--references", RootDirectory / "knowledge" / "references" / "neutral", "--out", RootDirectory / "knowledge" / "extracted",
            .. OllamaHost is null ? Array.Empty<string>() : ["--ollama-host", OllamaHost],
            .. LlmModel is null ? Array.Empty<string>() : ["--llm-model", LlmModel],
            .. LlmAllowModelChange == true ? ["--llm-allow-model-change"] : Array.Empty<string>()]));
}
