/** `npm start`: the main job on the embedded default platform. */
import { runCameraPipelineDemo } from './demo/camera-pipeline.ts';

runCameraPipelineDemo();
