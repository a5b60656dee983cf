using FairNad.Llm;

namespace FairNad.Experiments;

/// <summary>
/// The exchanges an experiment ships (<see cref="LlmOptions.Recorded"/>): a transcript folder recorded by an earlier run,
/// copied into a new run's own llm/ folder before its first question, so the run replays those answers (and stays
/// self-contained: its folder holds every answer it used). Only a run that asks the model they were recorded with gets
/// them; another model starts with an empty folder, as it would without them.
/// </summary>
public static class ShippedTranscripts
{
    /// <summary>Copies the shipped model record and exchanges into <paramref name="llmDirectory"/>; returns how many exchanges.</summary>
    /// <exception cref="ExperimentException">the folder is missing or is not a transcript folder; the message names the experiment file and llm.recorded.</exception>
    public static int Seed(string experimentFile, string recorded, string model, string llmDirectory, Action<string> log)
    {
        var source = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(experimentFile)) ?? ".", recorded));
        var where = $"{experimentFile}: llm.recorded";
        if (!Directory.Exists(source))
        {
            throw new ExperimentException($"{where}: {source} is not a folder; it must hold a run's recorded exchanges (the llm/ folder of a run)");
        }

        var store = new TranscriptStore(source);
        ModelHistory models;
        try
        {
            models = store.ReadModels() ?? throw new ExperimentException($"{where}: {source} has no {TranscriptStore.ModelFile}, so it is not a folder of recorded exchanges");
        }
        catch (LlmReplayMissException e)
        {
            throw new ExperimentException($"{where}: {e.Message}");
        }

        if (!models.Current.Answers(model))
        {
            log($"LLM: the exchanges shipped in {recorded} were recorded with {models.Current.Name}; this run asks {model}, so it starts without them");
            return 0;
        }

        // A run that stopped before its first candidate is started again from scratch: what was copied then is copied
        // again, byte for byte; an exchange the run recorded itself is never overwritten.
        Directory.CreateDirectory(llmDirectory);
        var copied = 0;
        foreach (var file in store.Files.Order(StringComparer.Ordinal).Append(store.ModelPath))
        {
            var destination = Path.Combine(llmDirectory, Path.GetFileName(file));
            if (File.Exists(destination))
            {
                if (!File.ReadAllBytes(destination).AsSpan().SequenceEqual(File.ReadAllBytes(file)))
                {
                    throw new ExperimentException($"{where}: {destination} already exists with other content; the shipped exchanges are copied only into a new run");
                }

                continue;
            }

            File.Copy(file, destination);
            copied += file == store.ModelPath ? 0 : 1;
        }

        log($"LLM: {copied} exchanges recorded with {models.Current} copied from {recorded}; the questions among them are replayed, not asked");
        return copied;
    }
}
