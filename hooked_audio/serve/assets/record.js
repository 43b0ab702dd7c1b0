// Microphone recording for the probing page. Dash has no recording component, so this is the
// browser's own MediaRecorder: the clip is decoded by the browser (decodeAudioData), written as
// 16-bit mono WAV and handed to the server like an upload (the `recording` store), where it
// goes through the same checks. At most 30 s: the page probes one Whisper window.
(function () {
  const MAX_SECONDS = 30;
  let recorder = null;
  let stopTimer = null;

  function wav(samples, rate) {
    const buffer = new ArrayBuffer(44 + samples.length * 2);
    const view = new DataView(buffer);
    const text = (offset, s) => { for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i)); };
    text(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVE");
    text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true);
    view.setUint16(22, 1, true); view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true);
    view.setUint16(32, 2, true); view.setUint16(34, 16, true);
    text(36, "data"); view.setUint32(40, samples.length * 2, true);
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
    return new Uint8Array(buffer);
  }

  function toDataUri(bytes) {
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return "data:audio/wav;base64," + btoa(binary);
  }

  function say(message) {
    window.dash_clientside.set_props("record-status", {children: message});
  }

  async function start(button) {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({audio: true});
    } catch (error) {
      say("The microphone is not available: " + error.message);
      return;
    }
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = (event) => chunks.push(event.data);
    recorder.onstop = async () => {
      stream.getTracks().forEach((track) => track.stop());
      clearTimeout(stopTimer);
      button.textContent = "Record";
      try {
        const context = new AudioContext();
        const decoded = await context.decodeAudioData(await new Blob(chunks).arrayBuffer());
        const mono = decoded.getChannelData(0);
        window.dash_clientside.set_props("recording", {data: toDataUri(wav(mono, decoded.sampleRate))});
        say("Recorded " + decoded.duration.toFixed(1) + " s.");
      } catch (error) {
        say("The recording could not be read: " + error.message);
      }
    };
    recorder.start();
    button.textContent = "Stop";
    say("Recording... (at most " + MAX_SECONDS + " s)");
    stopTimer = setTimeout(() => recorder && recorder.state === "recording" && recorder.stop(), MAX_SECONDS * 1000);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("#record");
    if (!button) return;
    if (recorder && recorder.state === "recording") {
      recorder.stop();
    } else {
      start(button);
    }
  });
})();
